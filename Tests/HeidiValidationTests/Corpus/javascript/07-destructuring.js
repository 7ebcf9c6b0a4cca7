const user = { name: "Ada", age: 36, languages: ["en", "fr"] };
const { name, age, ...rest } = user;
let message = `${name} is ${age} years old`;
if (typeof rest.languages !== "undefined") {
  message += ` and speaks ${rest.languages.length} languages`;
}
console.log(message);
