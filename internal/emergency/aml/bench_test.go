package aml

import (
	"net/url"
	"os"
	"testing"
)

// BenchmarkParseHTTPS measures the HTTPS-form reader against its floor, the standard
// library's form decoding alone (BenchmarkBaselineParseQuery): the ratio is what judging the
// fields costs on top.
func BenchmarkParseHTTPS(b *testing.B) {
	body, _ := os.ReadFile("testdata/https.form")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ParseHTTPS(body)
	}
}

func BenchmarkBaselineParseQuery(b *testing.B) {
	body, _ := os.ReadFile("testdata/https.form")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		url.ParseQuery(string(body))
	}
}

func BenchmarkParseSMS(b *testing.B) {
	body, _ := os.ReadFile("testdata/sms-v1.txt")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ParseSMS(body, "+33612345678")
	}
}
