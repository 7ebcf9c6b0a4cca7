const numbers = [1, 2, 3, 4, 5, 6];

const evens = numbers.filter((n) => n % 2 === 0);
const squares = evens.map((n) => n * n);
const sum = squares.reduce((acc, n) => acc + n, 0);

console.log({ evens, squares, sum });
