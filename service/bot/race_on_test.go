//go:build race

package bot

// raceOn: the race detector makes map-heavy tests (TestLeaveOneOut) about ten times slower.
const raceOn = true
