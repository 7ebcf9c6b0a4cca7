function makeCounter() {
  let count = 0;
  return {
    increment() {
      count += 1;
      return count;
    },
    reset() {
      count = 0;
    },
  };
}

var counter = makeCounter();
counter.increment();
