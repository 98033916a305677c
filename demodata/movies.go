package demodata

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/movierec/movierec"
)

const (
	firstYear = 1950
	lastYear  = 2025
)

// movieInfo is what the rating and tag stages know about a movie, including
// hidden facts that are not part of movierec.Movie.
type movieInfo struct {
	genres   []int // indices into genreNames, ascending
	year     int
	release  time.Time
	duration int
	imdb     float64
	sequel   bool
	// quality is the mean score (0.5..5 scale) a neutral user gives it.
	quality float64
	// popularity is the relative chance the movie is picked for a rating.
	popularity float64
}

// sequelState remembers, for an original movie, how to title its sequels.
type sequelState struct {
	base     string
	roman    bool
	count    int // installments so far, the original included
	lastYear int
}

// generateMovies makes n movies with IDs 1..n and their hidden facts.
func generateMovies(r *rand.Rand, n int) ([]movierec.Movie, []movieInfo) {
	movies := make([]movierec.Movie, 0, n)
	infos := make([]movieInfo, 0, n)
	// The maps are used for membership only, never iterated.
	titles := make(map[string]bool, n)
	imdbIDs := make(map[int]bool, n)
	tmdbIDs := make(map[int64]bool, n)
	sequels := make(map[int]*sequelState)
	var originals []int // indices of movies that are not sequels

	for i := range n {
		var info movieInfo
		var title string
		orig := -1
		if len(originals) >= 20 && r.Float64() < 0.04 {
			orig = originals[r.IntN(len(originals))]
		}
		if orig >= 0 {
			// A sequel: same genres, a later year, a numbered title and
			// (sequels being what they are) a slightly lower rating.
			o := &infos[orig]
			st := sequels[orig]
			if st == nil {
				st = &sequelState{base: movies[orig].Title, roman: r.IntN(3) == 0, count: 1, lastYear: o.year}
				sequels[orig] = st
			}
			st.count++
			st.lastYear = min(lastYear, st.lastYear+1+r.IntN(4))
			title = st.base + " " + sequelNumber(st.count, st.roman)
			info.genres = slices.Clone(o.genres)
			info.year = st.lastYear
			info.sequel = true
			info.imdb = o.imdb - 0.4 + 0.5*r.NormFloat64()
		} else {
			info.genres = drawGenres(r)
			info.year = drawYear(r, info.genres)
			for try := 0; ; try++ {
				title = drawTitle(r)
				if !titles[title] || try >= 20 {
					break
				}
			}
			info.imdb = drawIMDbMean(info.genres, info.year) + 1.0*r.NormFloat64()
			originals = append(originals, i)
		}
		titles[title] = true
		info.imdb = math.Round(clampFloat(info.imdb, 1.0, 9.5)*10) / 10
		info.release = time.Date(info.year, time.January, 1, 0, 0, 0, 0, time.UTC).
			AddDate(0, 0, r.IntN(daysIn(info.year)))
		info.duration = drawDuration(r, info.genres)
		// Hidden quality on the 0.5..5 scale: mostly the IMDb rating, plus
		// something IMDb does not capture.
		info.quality = 3.0 + 0.42*(info.imdb-6.4) + 0.2*r.NormFloat64()

		imdb := 10_000 + r.IntN(9_990_000)
		for imdbIDs[imdb] {
			imdb = 10_000 + r.IntN(9_990_000)
		}
		imdbIDs[imdb] = true
		tmdb := int64(2 + r.IntN(2_000_000))
		for tmdbIDs[tmdb] {
			tmdb = int64(2 + r.IntN(2_000_000))
		}
		tmdbIDs[tmdb] = true

		genres := make([]movierec.Genre, len(info.genres))
		for k, g := range info.genres {
			genres[k] = movierec.Genre{Name: genreNames[g]}
		}
		year, release, duration, rating := info.year, info.release, info.duration, info.imdb
		imdbID := fmt.Sprintf("tt%07d", imdb)
		movies = append(movies, movierec.Movie{
			ID:          int64(i + 1),
			Title:       title,
			Description: drawDescription(r, info.genres),
			ReleaseYear: &year,
			ReleaseDate: &release,
			Duration:    &duration,
			IMDbRating:  &rating,
			IMDbID:      &imdbID,
			TMDbID:      &tmdb,
			Genres:      genres,
		})
		infos = append(infos, info)
	}
	assignPopularity(r, infos)
	return movies, infos
}

// sequelNumber formats the n-th installment's number.
func sequelNumber(n int, roman bool) string {
	romans := [...]string{"", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"}
	if roman && n < len(romans) {
		return romans[n]
	}
	return strconv.Itoa(n)
}

func daysIn(year int) int {
	return time.Date(year, time.December, 31, 0, 0, 0, 0, time.UTC).YearDay()
}

// drawGenres returns 1-3 distinct genre indices, ascending (so sorted by
// name), drawn by MovieLens frequency.
func drawGenres(r *rand.Rand) []int {
	n := 1 + pickWeighted(r, []float64{0.36, 0.40, 0.24})
	weights := genreWeights
	first := pickWeighted(r, weights[:])
	genres := []int{first}
	weights[first] = 0
	switch first {
	case gDocumentary:
		n = 1 + pickWeighted(r, []float64{0.85, 0.15})
	case gChildren, gAnimation:
		// Family films go together, with comedy and adventure.
		weights[gChildren] *= 6
		weights[gAnimation] *= 6
		weights[gComedy] *= 1.5
		weights[gAdventure] *= 2.5
		weights[gHorror], weights[gFilmNoir], weights[gWar] = 0, 0, 0
	case gIMAX:
		// IMAX is a format: it goes with spectacle.
		n = max(n, 2)
		weights[gAction] *= 3
		weights[gAdventure] *= 4
		weights[gSciFi] *= 4
		weights[gDocumentary] = 0
	}
	weights[gDocumentary] *= 0.1
	if first != gIMAX {
		weights[gIMAX] *= 0.3
	}
	for len(genres) < n {
		g := pickWeighted(r, weights[:])
		if weights[g] == 0 {
			break
		}
		genres = append(genres, g)
		weights[g] = 0
	}
	slices.Sort(genres)
	return genres
}

func hasGenre(genres []int, g int) bool {
	return slices.Contains(genres, g)
}

// drawYear returns a release year in firstYear..lastYear, skewed towards
// recent decades; some genres belong to their era.
func drawYear(r *rand.Rand, genres []int) int {
	switch {
	case hasGenre(genres, gFilmNoir):
		return 1950 + r.IntN(10)
	case hasGenre(genres, gIMAX):
		return 2000 + r.IntN(lastYear-2000+1)
	case hasGenre(genres, gWestern) && r.IntN(2) == 0:
		return 1950 + r.IntN(26)
	}
	// The density rises towards the present (a quarter uniform, the rest
	// linearly rising): about 16% of movies are older than 1975, a third
	// are from 2005 on.
	u := r.Float64()
	if r.IntN(4) != 0 {
		u = math.Sqrt(u)
	}
	return min(lastYear, firstYear+int(u*float64(lastYear-firstYear+1)))
}

// drawIMDbMean returns the mean IMDb rating of movies like this.
func drawIMDbMean(genres []int, year int) float64 {
	shift := 0.0
	for _, g := range genres {
		shift += genreRatingShift[g]
	}
	mean := 6.45 + shift/math.Sqrt(float64(len(genres)))
	if year < 1980 {
		// Old movies still around are the good ones.
		mean += 0.3
	}
	return mean
}

// drawDuration returns a running time in minutes, 80..180.
func drawDuration(r *rand.Rand, genres []int) int {
	mean := 0.0
	for _, g := range genres {
		mean += genreDuration[g]
	}
	mean /= float64(len(genres))
	d := mean + 14*r.NormFloat64()
	if r.IntN(25) == 0 {
		d += 35 // the occasional epic
	}
	return clampInt(int(math.Round(d)), 80, 180)
}

// drawTitle returns a title built from one of several patterns.
func drawTitle(r *rand.Rand) string {
	adj := func() string { return pick(r, titleAdjectives) }
	noun := func() string { return pick(r, titleNouns) }
	switch pickWeighted(r, []float64{20, 6, 3, 9, 6, 12, 5, 5, 3, 3, 4, 3, 5, 5, 4, 4}) {
	case 0:
		return "The " + adj() + " " + noun()
	case 1:
		return pick(r, titleTimes) + " in " + pick(r, titlePlaces)
	case 2:
		return "Return of the " + adj() + " " + noun()
	case 3:
		return pick(r, titlePlurals) + " of " + pick(r, titleAbstracts)
	case 4:
		return "The " + noun() + " of " + pick(r, titlePlaces)
	case 5:
		return adj() + " " + noun()
	case 6:
		return pick(r, titleNames) + "'s " + noun()
	case 7:
		return "The Last " + noun()
	case 8:
		return pick(r, titleSingles)
	case 9:
		return pick(r, titleNames) + " and the " + adj() + " " + noun()
	case 10:
		n := noun()
		return article(n) + " " + n + " in " + pick(r, titlePlaces)
	case 11:
		return "Beyond the " + noun()
	case 12:
		return pick(r, titlePrefixes) + " " + pick(r, titlePlaces)
	case 13:
		return "The " + noun() + " and the " + noun()
	case 14:
		return adj() + " " + pick(r, titlePlurals)
	default:
		return "The " + pick(r, titlePlurals) + " of " + pick(r, titlePlaces)
	}
}

// drawDescription returns one or two sentences about a movie of genres.
func drawDescription(r *rand.Rand, genres []int) string {
	g := genres[r.IntN(len(genres))]
	if g == gIMAX && len(genres) > 1 {
		for g == gIMAX {
			g = genres[r.IntN(len(genres))]
		}
	}
	words := &genreText[g]
	place := func(s string) string {
		return strings.ReplaceAll(s, "{place}", pick(r, descPlaces))
	}

	var first string
	switch {
	case g == gDocumentary:
		subject := pick(r, words.subjects)
		if r.IntN(2) == 0 {
			first = "This documentary follows " + subject + " " + place(pick(r, docSettings)) + "."
		} else {
			first = "An intimate portrait of " + subject + "."
		}
	case len(words.subjects) == 0:
		// IMAX alone: a spectacle without a story.
		first = "A breathtaking journey " + place(pick(r, []string{"to the edge of space", "beneath the ocean", "across the frozen Arctic", "through {place}"})) + ", filmed for the giant screen."
	default:
		subject := pick(r, words.subjects)
		setting := pick(r, words.settings)
		if r.IntN(4) == 0 {
			setting = pick(r, genericSettings)
		}
		setting = place(setting)
		goal := pick(r, words.goals)
		switch r.IntN(4) {
		case 0:
			first = capitalize(subject) + " must " + goal + " " + setting + "."
		case 1:
			first = "When " + pick(r, words.events) + ", " + subject + " will stop at nothing to " + goal + "."
		case 2:
			first = capitalize(subject) + " will risk everything to " + goal + " " + setting + "."
		default:
			first = capitalize(setting) + ", " + subject + " must " + goal + "."
		}
	}
	if r.Float64() < 0.4 {
		return first
	}
	taglines := words.taglines
	if len(taglines) == 0 || r.IntN(4) == 0 {
		taglines = genericTaglines
	}
	return first + " " + pick(r, taglines)
}

// article returns the indefinite article, capitalized, for word.
func article(word string) string {
	if word != "" && strings.ContainsRune("AEIOU", rune(word[0])) {
		return "An"
	}
	return "A"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// assignPopularity gives the movies Zipf-distributed popularity weights. The
// rank order favours well-rated and recent movies, with plenty of noise.
func assignPopularity(r *rand.Rand, infos []movieInfo) {
	type ranked struct {
		idx int
		key float64
	}
	order := make([]ranked, len(infos))
	for i := range infos {
		m := &infos[i]
		recency := float64(m.year-firstYear) / float64(lastYear-firstYear)
		order[i] = ranked{i, 0.55*(m.imdb-6.4) + 0.6*recency + r.NormFloat64()}
	}
	slices.SortFunc(order, func(a, b ranked) int {
		if a.key != b.key {
			if a.key > b.key {
				return -1
			}
			return 1
		}
		return a.idx - b.idx
	})
	for rank, o := range order {
		infos[o.idx].popularity = math.Pow(float64(rank)+3, -1.05)
	}
}
