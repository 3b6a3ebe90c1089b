package eval

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
)

// String formats the result as a table: one metric per line, with its
// standard deviation when the result comes from repeated samples, then the
// query counts.
func (r Result) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 0, ' ', tabwriter.AlignRight)
	names := r.names()
	width := labelWidth(r, names)
	fmt.Fprintf(w, "%-*s\t  value\t\n", width, "metric")
	for _, name := range names {
		fmt.Fprintf(w, "%-*s\t  %s\t\n", width, r.label(name), r.value(name))
	}
	w.Flush()
	b.WriteString(r.footer())
	return b.String()
}

// Compare formats two results side by side, one metric per line, with the
// difference b - a; labelA and labelB head the value columns (for example
// "before" and "after"). Metrics present in only one result show "-".
func Compare(labelA string, a Result, labelB string, b Result) string {
	var s strings.Builder
	w := tabwriter.NewWriter(&s, 0, 0, 0, ' ', tabwriter.AlignRight)
	seen := make(map[string]bool)
	var names []string
	for _, n := range append(a.names(), b.names()...) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	width := max(labelWidth(a, names), labelWidth(b, names))
	fmt.Fprintf(w, "%-*s\t  %s\t  %s\t  delta\t\n", width, "metric", labelA, labelB)
	for _, n := range names {
		va, okA := a.Metrics[n]
		vb, okB := b.Metrics[n]
		delta := "-"
		if okA && okB {
			delta = fmt.Sprintf("%+.4f", vb-va)
		}
		label := a.label(n)
		if !okA {
			label = b.label(n)
		}
		fmt.Fprintf(w, "%-*s\t  %s\t  %s\t  %s\t\n", width, label, a.value(n), b.value(n), delta)
	}
	w.Flush()
	fmt.Fprintf(&s, "%s: %s%s: %s", labelA, a.footer(), labelB, b.footer())
	return s.String()
}

// labelWidth is the width of the widest metric label (and of "metric").
func labelWidth(r Result, names []string) int {
	w := len("metric")
	for _, n := range names {
		w = max(w, len(r.label(n)))
	}
	return w
}

// names lists the metrics of r in table order.
func (r Result) names() []string {
	var out []string
	for _, n := range metricOrder {
		if _, ok := r.Metrics[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// label is the metric name with the cutoff k written out.
func (r Result) label(name string) string {
	return strings.Replace(name, "@k", "@"+strconv.Itoa(r.K), 1)
}

func (r Result) value(name string) string {
	v, ok := r.Metrics[name]
	if !ok {
		return "-"
	}
	if sd, ok := r.Std[name]; ok {
		return fmt.Sprintf("%.4f ± %.4f", v, sd)
	}
	return fmt.Sprintf("%.4f", v)
}

func (r Result) footer() string {
	s := fmt.Sprintf("%d queries", r.Queries)
	if r.Repeats > 1 {
		s += fmt.Sprintf(" x %d samples", r.Repeats)
	}
	return s + fmt.Sprintf(", %d skipped (no relevant item)\n", r.Skipped)
}
