const { createClient } = require('./lib/wxlogin.js');
const { createSimulatedDevice } = require('./lib/simulated-device.js');
const config = require('./config.js');

const simulator = config.simulatorUrl
  ? createSimulatedDevice({ simulatorUrl: config.simulatorUrl, appid: config.appid })
  : null;

App({
  // One client for the whole app, so that every page shares its session and its refresh.
  wxlogin: createClient({
    baseUrl: config.baseUrl,
    appid: config.appid || undefined,
    wx: simulator ? simulator.wx : undefined,
  }),
  simulator,
});
