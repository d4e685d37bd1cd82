package held

import (
	"testing"
	"time"

	"socle/internal/emergency/pidflo"
)

func BenchmarkParseRequest(b *testing.B) {
	body, err := EncodeRequest(Request{Device: "tel:+33698123456", ResponseTime: 3 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, herr := ParseRequest(body); herr != nil {
			b.Fatal(herr)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	body, err := EncodeResponse(pidflo.Document{Entity: "tel:+33698123456", Timestamp: time.Now(),
		Locations: []pidflo.Location{{Shape: pidflo.Circle{Lat: 48.85, Lon: 2.29, Radius: 800}, Method: "Cell", Confidence: 68}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	d := pidflo.Document{Entity: "tel:+33698123456", Timestamp: time.Now(),
		Locations: []pidflo.Location{{Shape: pidflo.Circle{Lat: 48.85, Lon: 2.29, Radius: 800}, Method: "Cell", Confidence: 68}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeResponse(d); err != nil {
			b.Fatal(err)
		}
	}
}
