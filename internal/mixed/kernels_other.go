//go:build !amd64 || purego

package mixed

func narrowBlocks(dst []float32, src []float64) int          { return 0 }
func widenBlocks(dst []float64, src []float32, add bool) int { return 0 }

func gateAddBlocks(y []float64, z []float32, b, s, x []float64) int { return 0 }

func gateBackBlocks(dy []float64, z []float32, s, sum, sumZ []float64, dz []float32) int {
	return 0
}
