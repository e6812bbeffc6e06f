// Where the example finds its wxlogin server. See README.md.
module.exports = {
  // The server's address: `wxlogin serve` prints it as "listening on http://ADDR".
  baseUrl: 'http://127.0.0.1:8080',

  // The app id the server knows this mini program by. `wxlogin serve --sim` prints its demo
  // app as "demo appid APPID". Against real WeChat, your own appid (or '' when the server
  // serves a single app).
  appid: 'wx0000000000demo',

  // With `wxlogin serve --sim` only: the simulator's address ("simulator on http://ADDR").
  // When set, the example plays the phone's part through the simulator's device side
  // (login codes and phone data), because codes from the real wx.login mean nothing to the
  // simulator. Leave it '' against real WeChat.
  simulatorUrl: '',
};
