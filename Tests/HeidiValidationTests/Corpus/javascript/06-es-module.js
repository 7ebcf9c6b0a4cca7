import { readFile } from "node:fs/promises";

export async function countLines(file) {
  const text = await readFile(file, "utf8");
  return text.split("\n").length;
}

export default countLines;
