//go:build race

package importer

// raceSlowdown stretches time bounds under the race detector, which runs this code 5–20 times slower.
const raceSlowdown = 5
