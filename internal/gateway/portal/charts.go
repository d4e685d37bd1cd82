package portal

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Charts are drawn here, as SVG in the page: no script to load or run, they print, they scale
// with the text, and a screen reader gets the chart's title and summary (role="img" with
// <title> and <desc>) — and every page gives the same figures as a table beside it.

// series is one stacked part of every bar: an API, an error class, an origin.
type series struct {
	Name   string
	Values []float64 // one per label
}

// chart is a bar chart: one bar per label, its series stacked.
type chart struct {
	ID, Title, Desc string
	Labels          []string
	Series          []series
	Lang            string
}

// palette: colours that keep a 3:1 contrast with the white background (WCAG 1.4.11) and
// stay apart for the common colour-vision deficiencies (after Okabe and Ito's choice).
var palette = []string{"#0b5fa5", "#b35806", "#1b7837", "#762a83", "#8c510a", "#01665e", "#c51b7d", "#4d4d4d"}

const (
	chartW, chartH     = 720, 240
	padL, padR         = 56, 12
	padT, padB         = 12, 40
	legendRow          = 20
	maxLabelsUnderBars = 12
)

// SVG draws the chart.
func (c chart) SVG() template.HTML {
	n := len(c.Labels)
	legendH := legendRow * ((len(c.Series) + 3) / 4)
	h := chartH + legendH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" xmlns="http://www.w3.org/2000/svg">`,
		chartW, h, c.ID, c.ID)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, c.ID, html.EscapeString(c.Title), c.ID, html.EscapeString(c.Desc))
	top := 0.0
	for i := range n {
		sum := 0.0
		for _, s := range c.Series {
			sum += s.Values[i]
		}
		top = math.Max(top, sum)
	}
	// Four grid steps of a round size, at least 1: the figures are counts.
	scale := 4 * max(1, niceCeil(top/4))
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	// Axis and grid: four steps.
	for k := 0; k <= 4; k++ {
		v := scale * float64(k) / 4
		y := float64(padT) + plotH - plotH*float64(k)/4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#c8c8c8" stroke-width="1"/>`, padL, chartW-padR, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="12" fill="#1e1e1e">%s</text>`, padL-6, y+4, html.EscapeString(short(c.Lang, v)))
	}
	if n > 0 {
		slot := plotW / float64(n)
		barW := math.Min(60, math.Max(1, slot*0.7))
		// As many labels under the bars as fit without touching (about 6.5 px a character).
		longest := 1
		for _, l := range c.Labels {
			longest = max(longest, len([]rune(l)))
		}
		fit := max(1, min(maxLabelsUnderBars, int(plotW/(float64(longest)*6.5+12))))
		every := (n + fit - 1) / fit
		for i := range n {
			x := float64(padL) + slot*float64(i) + (slot-barW)/2
			y := float64(padT) + plotH
			for si, s := range c.Series {
				v := s.Values[i]
				if v <= 0 || scale == 0 {
					continue
				}
				bh := plotH * v / scale
				y -= bh
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s — %s : %s</title></rect>`,
					x, y, barW, bh, palette[si%len(palette)], html.EscapeString(c.Labels[i]), html.EscapeString(s.Name), html.EscapeString(short(c.Lang, v)))
			}
			if i%every == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="#1e1e1e">%s</text>`,
					x+barW/2, chartH-padB+16, html.EscapeString(c.Labels[i]))
			}
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#1e1e1e" stroke-width="1"/>`, padL, chartW-padR, chartH-padB, chartH-padB)
	for si, s := range c.Series {
		x := padL + (si%4)*((chartW-padL)/4)
		y := chartH + legendRow*(si/4)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12" fill="#1e1e1e">%s</text>`,
			x, y-10, palette[si%len(palette)], x+16, y, html.EscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, for the axis.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// short writes an axis figure: 1 500, 12 k, 3,5 M.
func short(lang string, v float64) string {
	sep := "."
	if lang != "en" {
		sep = ","
	}
	switch {
	case v >= 1e6:
		return strings.Replace(fmt.Sprintf("%.3g M", v/1e6), ".", sep, 1)
	case v >= 1e4:
		return strings.Replace(fmt.Sprintf("%.3g k", v/1e3), ".", sep, 1)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	}
	return strings.Replace(fmt.Sprintf("%.2g", v), ".", sep, 1)
}
