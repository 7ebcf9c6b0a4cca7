#include <algorithm>
#include <vector>
#include <string>

struct Person {
    std::string name;
    int age;
};

void sortByAge(std::vector<Person>& people) {
    std::sort(people.begin(), people.end(), [](const Person& a, const Person& b) {
        return a.age < b.age;
    });
}
