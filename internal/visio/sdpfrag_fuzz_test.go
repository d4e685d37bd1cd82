package visio_test

import (
	"strings"
	"testing"

	"socle/internal/visio"
)

// FuzzParseSDPFrag: any text gives a fragment or an error, never a panic; every candidate
// read names its m-line and is a candidate attribute.
func FuzzParseSDPFrag(f *testing.F) {
	f.Add("a=ice-ufrag:EsAw\r\na=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 192.0.2.1 61764 typ host\r\na=end-of-candidates\r\n")
	f.Add("m=video 9 RTP/AVP 0\na=candidate:2 1 udp 1 ::1 5 typ host\na=mid:v\n")
	f.Add("a=\r\nm=\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		frag, err := visio.ParseSDPFrag(text)
		if err != nil {
			return
		}
		for _, c := range frag.Candidates {
			if c.SDPMLineIndex == nil || !strings.HasPrefix(c.Candidate, "candidate:") {
				t.Fatalf("%q: candidate %+v", text, c)
			}
		}
	})
}
