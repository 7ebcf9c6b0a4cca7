#include <iostream>
#include <sstream>
#include <string>
#include <unordered_map>
using namespace std;

int main() {
    unordered_map<string, int> counts;
    string line, word;
    while (getline(cin, line)) {
        istringstream stream(line);
        while (stream >> word) {
            ++counts[word];
        }
    }
    for (const auto& [w, n] : counts) {
        cout << w << ": " << n << "\n";
    }
    return 0;
}
