numbers = [3, 1, 4, 1, 5, 9, 2, 6]
total = 0
for n in numbers:
    total += n
average = total / len(numbers)
print("average:", average)
