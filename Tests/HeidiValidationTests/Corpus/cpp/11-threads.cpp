#include <mutex>
#include <thread>
#include <vector>

int parallelCount(int workers, int perWorker) {
    int total = 0;
    std::mutex m;
    std::vector<std::thread> threads;
    for (int i = 0; i < workers; ++i) {
        threads.emplace_back([&] {
            for (int j = 0; j < perWorker; ++j) {
                std::lock_guard<std::mutex> lock(m);
                ++total;
            }
        });
    }
    for (auto& t : threads) t.join();
    return total;
}
