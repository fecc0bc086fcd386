'use strict';
// Bundled into dist/vendor/yargs.js in place of string-width (scripts/bundle-vendor.js): yargs'
// help measures every cell and every word of its text with it, and printable ASCII (all of
// ctl's help in English) is as wide as it is long. Anything else goes to string-width itself.
const stringWidth = require('string-width/index.js');

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function width(text) {
  return typeof text === 'string' && PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text);
}

module.exports = width;
module.exports.default = width;
