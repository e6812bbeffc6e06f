const app = getApp();

// What the user should read for the errors a person can act on.
function describe(action, error) {
  switch (error.code) {
    case 'user_denied':
      return 'No phone number shared. Tap again whenever you like.';
    case 'decrypt_failed':
      return 'Your WeChat session changed. Please tap "Share phone number" again.';
    case 'rate_limited':
    case 'upstream_unavailable':
      return (
        action +
        ' failed: the server is busy. ' +
        (error.retryAfter !== undefined ? 'Try again in ' + error.retryAfter + ' s.' : 'Try again later.')
      );
    case 'network_error':
      return action + ' failed: the server could not be reached. Is `wxlogin serve` running at the baseUrl in config.js?';
    default:
      return action + ' failed (' + (error.code || 'error') + '): ' + error.message;
  }
}

// Closing an account cannot be undone: the user confirms first. Resolves with whether
// they did; a dialog that could not open counts as no.
function confirmCloseAccount() {
  return new Promise((resolve) => {
    wx.showModal({
      title: 'Close your account?',
      content:
        'Your account, phone number and sessions are deleted on the server. This cannot be undone: logging in again later starts a new account.',
      confirmColor: '#e64340',
      success: (result) => resolve(result.confirm === true),
      fail: () => resolve(false),
    });
  });
}

Page({
  data: {
    status: 'Not logged in.',
    user: null,
    loggedIn: false,
    busy: false,
  },

  onLoad() {
    const user = app.wxlogin.currentUser();
    if (user) this.setData({ user, loggedIn: true, status: 'Logged in (session kept from last time).' });
  },

  // Each handler returns its promise so that it can be awaited outside WeChat too.
  run(action, work) {
    this.setData({ busy: true, status: action + '…' });
    return work().then(
      (status) => this.setData({ busy: false, status, loggedIn: app.wxlogin.isLoggedIn() }),
      (error) => this.setData({ busy: false, status: describe(action, error), loggedIn: app.wxlogin.isLoggedIn() })
    );
  },

  onLogin() {
    return this.run('Logging in', () =>
      app.wxlogin.login().then((user) => {
        this.setData({ user });
        return 'Logged in.';
      })
    );
  },

  onGetPhoneNumber(event) {
    const tap = app.simulator ? app.simulator.phoneTap(event) : Promise.resolve(event);
    return this.run('Sharing the phone number', () =>
      tap
        .then((phoneEvent) => app.wxlogin.bindPhoneNumber(phoneEvent))
        .then(() => app.wxlogin.me())
        .then((user) => {
          this.setData({ user });
          return 'Phone number saved.';
        })
    );
  },

  onWhoAmI() {
    return this.run('Asking the server', () =>
      app.wxlogin.me().then((user) => {
        this.setData({ user });
        return 'The server knows you as user ' + user.id + '.';
      })
    );
  },

  onCloseAccount() {
    return confirmCloseAccount().then((confirmed) => {
      if (!confirmed) {
        this.setData({ status: 'Your account stays.' });
        return undefined;
      }
      return this.run('Closing the account', () =>
        app.wxlogin.deleteAccount().then(() => {
          this.setData({ user: null });
          return 'Account closed. Logging in again starts a new account.';
        })
      );
    });
  },

  onLogout() {
    return this.run('Logging out', () =>
      app.wxlogin.logout().then((outcome) => {
        this.setData({ user: null });
        return outcome.serverRevoked ? 'Logged out.' : 'Logged out on this phone; the server will be told at the next start.';
      })
    );
  },
});
