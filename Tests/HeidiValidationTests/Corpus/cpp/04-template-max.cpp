template <typename T>
T maxOf(const T& a, const T& b) {
    return a < b ? b : a;
}

template <typename T, typename... Rest>
T maxOf(const T& first, const Rest&... rest) {
    return maxOf(first, maxOf(rest...));
}
