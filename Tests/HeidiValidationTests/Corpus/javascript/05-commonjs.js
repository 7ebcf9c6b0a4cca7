const fs = require("fs");
const path = require("path");

function readJson(file) {
  const text = fs.readFileSync(path.resolve(file), "utf8");
  return JSON.parse(text);
}

module.exports = { readJson };
