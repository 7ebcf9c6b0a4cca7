#include <memory>

struct Node {
    int value;
    std::unique_ptr<Node> next;
    explicit Node(int v) : value(v), next(nullptr) {}
};

class LinkedList {
public:
    void pushFront(int value) {
        auto node = std::make_unique<Node>(value);
        node->next = std::move(head_);
        head_ = std::move(node);
    }

    int size() const {
        int count = 0;
        for (const Node* n = head_.get(); n != nullptr; n = n->next.get()) {
            ++count;
        }
        return count;
    }

private:
    std::unique_ptr<Node> head_;
};
