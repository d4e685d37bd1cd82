package pull

import (
	"testing"

	"socle/internal/emergency/pidflo"
)

func TestTheDepartementOfACivicAddress(t *testing.T) {
	for c, want := range map[pidflo.Civic]string{
		{Country: "FR", PC: "75001"}:              "75",
		{Country: "FR", PC: "20000"}:              "2A",
		{Country: "FR", PC: "20200"}:              "2B",
		{Country: "FR", PC: "97400"}:              "974",
		{Country: "FR", A2: "69", PC: "75001"}:    "69", // a département written as such wins
		{Country: "FR", A2: "Rhône", PC: "69001"}: "69",
		{Country: "BE", PC: "10000"}:              "",
		{Country: "FR", PC: "7500"}:               "",
		{Country: "FR"}:                           "",
	} {
		if got := civicDepartement(&c); got != want {
			t.Errorf("%+v: %q, want %q", c, got, want)
		}
	}
}
