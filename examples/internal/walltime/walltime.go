// Package walltime prints the wall times of an example's run and compares a
// warm run with the cold one recorded before it.
package walltime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// File is the name, inside the run directory, of the cold run's record.
const File = "cold-run.json"

// times are the wall times of a run.
type times struct {
	Fill, Total time.Duration
}

// Report prints the wall times of this run. A cold run (one that encoded)
// records them in dir; a warm run shows the recorded cold run's beside its
// own.
func Report(dir string, cold bool, fill, total time.Duration) error {
	path := filepath.Join(dir, File)
	fmt.Printf("wall time: cache fill %v, total %v", fill.Round(time.Millisecond), total.Round(time.Millisecond))
	if cold {
		fmt.Println(" (cold cache; run again to see the warm one)")
		b, err := json.Marshal(times{fill, total})
		if err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o644)
	}
	var c times
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &c) != nil {
		fmt.Println(" (warm cache)")
		return nil
	}
	fmt.Printf(" (warm cache); cold run: cache fill %v, total %v; %.1fx faster\n",
		c.Fill.Round(time.Millisecond), c.Total.Round(time.Millisecond), c.Total.Seconds()/total.Seconds())
	return nil
}
