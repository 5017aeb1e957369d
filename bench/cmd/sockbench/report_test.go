package main

import (
	"slices"
	"testing"
	"time"
)

func TestNewRow(t *testing.T) {
	tests := []struct {
		name                 string
		times                []time.Duration
		wantMedian, min, max float64
	}{
		{"odd", []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}, 2, 1, 3},
		{"even", []time.Duration{4 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}, 2.5, 1, 4},
		{"one", []time.Duration{1500 * time.Microsecond}, 1.5, 1.5, 1.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRow(command{Tool: "ss"}, tt.times, 1024, 10)
			if r.Median != tt.wantMedian || r.Min != tt.min || r.Max != tt.max || len(r.Times) != len(tt.times) {
				t.Errorf("row %+v, want median %g, min %g, max %g", r, tt.wantMedian, tt.min, tt.max)
			}
		})
	}
}

func TestSetRatios(t *testing.T) {
	g := group{Rows: []row{
		{Command: command{Tool: "sockstate"}, Median: 5},
		{Command: command{Tool: "ss"}, Median: 10},
		{Command: command{Tool: "netstat"}, Median: 30},
	}}
	g.setRatios()
	var got []float64
	for _, r := range g.Rows {
		got = append(got, r.VsSS)
	}
	if want := []float64{0.5, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("ratios %v, want %v", got, want)
	}

	alone := group{Rows: []row{{Command: command{Tool: "gopsutil"}, Median: 5}}}
	alone.setRatios()
	if alone.Rows[0].VsSS != 0 {
		t.Errorf("ratio without ss = %g, want 0", alone.Rows[0].VsSS)
	}
}

func TestCommandString(t *testing.T) {
	tests := []struct {
		c    command
		want string
	}{
		{command{"ss", []string{"-tan"}}, "ss -tan"},
		{command{"ss", []string{"-tan", "sport = :5000"}}, "ss -tan 'sport = :5000'"},
		{command{"gopsutil", nil}, `gopsutil net.Connections("tcp")`},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
