'use strict';
// The entry WeChat DevTools' "build npm" looks for: a mini program's
// require('wxlogin-miniprogram') loads miniprogram_npm/wxlogin-miniprogram/index.js.
module.exports = require('./wxlogin.js');
