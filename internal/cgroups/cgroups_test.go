package cgroups

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"0123456789abcdef", true},
		{"DEADbeef", true},
		{"", false},
		{"../etc", false},
		{"abc/def", false},
		{"abc def", false},
		{"xyz", false},
		{strings.Repeat("a", maxIDLen), true},
		{strings.Repeat("a", maxIDLen+1), false},
	}
	for _, tt := range tests {
		if err := checkID(tt.id); (err == nil) != tt.ok {
			t.Errorf("checkID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name      string
		l         Limits
		ok        bool
		wantQuota int64
	}{
		{"zero", Limits{}, true, 0},
		{"one and a half CPUs", Limits{CPUs: 1.5}, true, 150000},
		{"smallest CPU share", Limits{CPUs: 0.01}, true, 1000},
		{"below kernel minimum", Limits{CPUs: 0.005}, false, 0},
		{"negative CPUs", Limits{CPUs: -1}, false, 0},
		{"NaN CPUs", Limits{CPUs: math.NaN()}, false, 0},
		{"infinite CPUs", Limits{CPUs: math.Inf(1)}, false, 0},
		{"negative memory", Limits{MemoryBytes: -1}, false, 0},
		{"negative pids", Limits{Pids: -1}, false, 0},
		{"all set", Limits{CPUs: 2, MemoryBytes: 1 << 30, Pids: 100}, true, 200000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.l.validate()
			if (err == nil) != tt.ok {
				t.Fatalf("validate() = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && tt.wantQuota != 0 && tt.l.cpuQuota() != tt.wantQuota {
				t.Errorf("cpuQuota() = %d, want %d", tt.l.cpuQuota(), tt.wantQuota)
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	all := Enforcement{Driver: DriverV2, CPU: true, Memory: true, Pids: true}
	none := Enforcement{Driver: DriverNone, Reason: "no cgroups here"}
	tests := []struct {
		name    string
		l       Limits
		e       Enforcement
		refused bool
	}{
		{"nothing asked, nothing offered", Limits{}, none, false},
		{"everything offered", Limits{CPUs: 1, MemoryBytes: 1 << 20, Pids: 10}, all, false},
		{"cpu not offered", Limits{CPUs: 1}, none, true},
		{"memory not offered", Limits{MemoryBytes: 1 << 20}, none, true},
		{"pids is best effort", Limits{Pids: 10}, none, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := refuse(tt.l, tt.e)
			if (err != nil) != tt.refused {
				t.Fatalf("refuse() = %v, want refused=%v", err, tt.refused)
			}
			if err != nil && !errors.Is(err, ErrUnavailable) {
				t.Errorf("refuse() = %v, does not wrap ErrUnavailable", err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.e.Reason) {
				t.Errorf("refuse() = %q, does not carry the reason %q", err, tt.e.Reason)
			}
		})
	}
	if got := withPidsNote(none, Limits{Pids: 10}).Reason; !strings.Contains(got, "pids limit is not enforced") {
		t.Errorf("withPidsNote reason = %q, want a note on the pids limit", got)
	}
}
