package animals

type Speaker interface {
	Speak() string
}

type Dog struct{ Name string }

func (d Dog) Speak() string { return d.Name + " says woof" }

func Chorus(speakers []Speaker) []string {
	var out []string
	for _, s := range speakers {
		out = append(out, s.Speak())
	}
	return out
}
