package model

// Fit cuts s to the first n characters (runes), which is what a column of size:n holds on MySQL
// (utf8mb4 VARCHAR counts characters), so that a long file name or bank reason never fails an
// insert and never splits a character.
func Fit(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
