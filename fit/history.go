package fit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// EpochStats is the record of one epoch.
type EpochStats struct {
	// Epoch is 1-based.
	Epoch int `json:"epoch"`
	// LR is the learning rate of the epoch's last step.
	LR float64 `json:"lr"`
	// Seconds is the wall time of training and validation.
	Seconds float64 `json:"seconds"`
	// Values holds train_loss, and with validation data val_loss and the
	// validation metrics (val_r_precision, val_mrr, ...).
	Values map[string]float64 `json:"values"`
}

// names returns the value names, losses first, then sorted.
func (s EpochStats) names() []string {
	var out []string
	for n := range s.Values {
		out = append(out, n)
	}
	sortNames(out)
	return out
}

func sortNames(ns []string) {
	rank := func(n string) int {
		switch n {
		case "train_loss":
			return 0
		case "val_loss":
			return 1
		}
		return 2
	}
	slices.SortFunc(ns, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
}

// History is the record of a run, one entry per completed epoch.
type History []EpochStats

// Names returns every value name that occurs, losses first.
func (h History) Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range h {
		for n := range s.Values {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sortNames(out)
	return out
}

// JSON returns the history as an indented JSON array.
func (h History) JSON() ([]byte, error) {
	if h == nil {
		h = History{}
	}
	return json.MarshalIndent(h, "", "  ")
}

// CSV returns the history as CSV: epoch, lr, seconds and one column per
// value name (empty where an epoch lacks it).
func (h History) CSV() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	names := h.Names()
	if err := w.Write(append([]string{"epoch", "lr", "seconds"}, names...)); err != nil {
		return nil, err
	}
	for _, s := range h {
		rec := []string{strconv.Itoa(s.Epoch), fmtFloat(s.LR), fmtFloat(s.Seconds)}
		for _, n := range names {
			v, ok := s.Values[n]
			if ok {
				rec = append(rec, fmtFloat(v))
			} else {
				rec = append(rec, "")
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// WriteFiles writes history.json and history.csv into dir, atomically.
func (h History) WriteFiles(dir string) error {
	j, err := h.JSON()
	if err != nil {
		return fmt.Errorf("fit: history: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, HistoryJSON), append(j, '\n')); err != nil {
		return err
	}
	c, err := h.CSV()
	if err != nil {
		return fmt.Errorf("fit: history: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, HistoryCSV), c)
}

// WritePNG draws the curves against the epoch: losses in the upper panel,
// metrics in the lower one (when there are any), and writes the PNG
// atomically.
func (h History) WritePNG(path string) error {
	var losses, metrics []string
	for _, n := range h.Names() {
		if strings.HasSuffix(n, "loss") {
			losses = append(losses, n)
		} else {
			metrics = append(metrics, n)
		}
	}
	panels := []*plot.Plot{h.panel("loss", losses)}
	if len(metrics) > 0 {
		panels = append(panels, h.panel("metric", metrics))
	}
	const width, panelHeight = 18 * vg.Centimeter, 10 * vg.Centimeter
	img := vgimg.New(width, panelHeight*vg.Length(len(panels)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: 2 * vg.Millimeter,
		PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter}
	grid := [][]*plot.Plot{}
	for _, p := range panels {
		grid = append(grid, []*plot.Plot{p})
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[i][0])
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&b); err != nil {
		return fmt.Errorf("fit: plot: %w", err)
	}
	return WriteFileAtomic(path, b.Bytes())
}

var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
	color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255}, color.RGBA{188, 189, 34, 255},
}

func (h History) panel(ylabel string, names []string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for k, n := range names {
		var pts plotter.XYs
		for _, s := range h {
			if v, ok := s.Values[n]; ok {
				pts = append(pts, plotter.XY{X: float64(s.Epoch), Y: v})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			// Non-finite values cannot be drawn; leave the curve out.
			continue
		}
		c := palette[k%len(palette)]
		line.Color, points.Color = c, c
		points.Shape = draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(n, line, points)
	}
	return p
}
