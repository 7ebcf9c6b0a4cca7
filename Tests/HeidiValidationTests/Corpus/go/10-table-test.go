package mathx

import "testing"

func TestAbs(t *testing.T) {
	tests := []struct {
		in, want int
	}{
		{-1, 1},
		{0, 0},
		{5, 5},
	}
	for _, tt := range tests {
		if got := Abs(tt.in); got != tt.want {
			t.Errorf("Abs(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
