counts := map[string]int{}
for _, word := range strings.Fields(text) {
	counts[strings.ToLower(word)]++
}
fmt.Println(counts)
