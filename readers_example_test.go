package simlearn_test

import (
	"fmt"
	"strings"

	"github.com/simlearn/simlearn"
)

// STS Benchmark files are tab-separated without header or quoting, with the
// score (0-5) and the two sentences in columns 5-7.
func ExampleReadPairsCSV() {
	data := "main-captions\tMSRvid\t2012test\t0001\t5.000\tA plane is taking off.\tAn air plane is taking off.\n" +
		"main-news\theadlines\t2016\t0012\t4\t\"Quoted\" start\tplain\textra\tcolumns\n"
	fields, opts := simlearn.STSBenchmark()
	pairs, err := simlearn.ReadPairsCSV(strings.NewReader(data), "sts.csv", fields, opts)
	if err != nil {
		panic(err)
	}
	for _, p := range pairs {
		fmt.Printf("%.1f %s | %s\n", p.Score, p.A, p.B)
	}
	// Output:
	// 1.0 A plane is taking off. | An air plane is taking off.
	// 0.8 "Quoted" start | plain
}

// Every problem is reported with its file, line and field.
func ExampleReadGroupsJSONL() {
	data := `{"description": "an apple", "label": "noun.food"}
{"description": "a dog"}
{"description": "bread", "label": "noun.food"
`
	labels := &simlearn.Labels{}
	_, err := simlearn.ReadGroupsJSONL(strings.NewReader(data), "train.jsonl",
		simlearn.GroupFields{Obj: "description", Group: "label", Labels: labels})
	fmt.Println(err)
	// Output:
	// train.jsonl:2: field "label": missing field: absent
	// train.jsonl:3: malformed record: unexpected EOF
}
