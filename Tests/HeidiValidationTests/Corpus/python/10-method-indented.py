    def area(self):
        return self.width * self.height

    def perimeter(self):
        return 2 * (self.width + self.height)
