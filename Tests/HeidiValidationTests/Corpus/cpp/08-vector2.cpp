#include <cmath>

struct Vec2 {
    double x, y;

    Vec2 operator+(const Vec2& other) const { return {x + other.x, y + other.y}; }
    Vec2 operator*(double k) const { return {x * k, y * k}; }
    double length() const { return std::sqrt(x * x + y * y); }
};
