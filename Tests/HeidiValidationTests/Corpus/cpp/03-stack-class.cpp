#include <stdexcept>
#include <vector>

class Stack {
public:
    void push(int value) { data_.push_back(value); }

    int pop() {
        if (data_.empty()) {
            throw std::out_of_range("pop on empty stack");
        }
        int top = data_.back();
        data_.pop_back();
        return top;
    }

    bool empty() const { return data_.empty(); }

private:
    std::vector<int> data_;
};
