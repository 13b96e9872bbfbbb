//go:build !race

package importer

// raceSlowdown stretches time bounds under the race detector; without it there is none.
const raceSlowdown = 1
