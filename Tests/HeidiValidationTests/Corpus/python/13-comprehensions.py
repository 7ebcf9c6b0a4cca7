matrix = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
transposed = [[row[i] for row in matrix] for i in range(3)]
flat = [x for row in matrix for x in row if x % 2 == 0]
lookup = {str(x): x ** 2 for x in flat}
print(transposed, lookup)
