package demodata

// This file holds the word lists the generator draws from. Every list is a
// slice (never a map that is iterated), so draws are reproducible.

// genreNames is the MovieLens genre list, sorted by name: sorting genre
// indices ascending therefore sorts genres by name.
var genreNames = [...]string{
	"Action", "Adventure", "Animation", "Children", "Comedy", "Crime",
	"Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX",
	"Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
}

const numGenres = len(genreNames)

// Indices into genreNames.
const (
	gAction = iota
	gAdventure
	gAnimation
	gChildren
	gComedy
	gCrime
	gDocumentary
	gDrama
	gFantasy
	gFilmNoir
	gHorror
	gIMAX
	gMusical
	gMystery
	gRomance
	gSciFi
	gThriller
	gWar
	gWestern
)

// genreWeights is how often each genre is drawn, roughly the MovieLens
// frequencies.
var genreWeights = [numGenres]float64{
	gAction: 1828, gAdventure: 1263, gAnimation: 611, gChildren: 664,
	gComedy: 3756, gCrime: 1199, gDocumentary: 440, gDrama: 4361,
	gFantasy: 779, gFilmNoir: 87, gHorror: 978, gIMAX: 158, gMusical: 334,
	gMystery: 573, gRomance: 1596, gSciFi: 980, gThriller: 1894, gWar: 382,
	gWestern: 167,
}

// genreRatingShift moves the mean IMDb rating of a genre's movies.
var genreRatingShift = [numGenres]float64{
	gAction: -0.15, gAdventure: 0, gAnimation: 0.2, gChildren: -0.35,
	gComedy: -0.15, gCrime: 0.15, gDocumentary: 0.6, gDrama: 0.3,
	gFantasy: -0.05, gFilmNoir: 0.6, gHorror: -0.75, gIMAX: 0.2,
	gMusical: 0.05, gMystery: 0.1, gRomance: 0, gSciFi: -0.15,
	gThriller: -0.1, gWar: 0.45, gWestern: 0.2,
}

// genreDuration is the typical running time of a genre's movies, minutes.
var genreDuration = [numGenres]float64{
	gAction: 115, gAdventure: 118, gAnimation: 90, gChildren: 92,
	gComedy: 100, gCrime: 114, gDocumentary: 95, gDrama: 117,
	gFantasy: 120, gFilmNoir: 94, gHorror: 97, gIMAX: 125, gMusical: 116,
	gMystery: 108, gRomance: 108, gSciFi: 118, gThriller: 108, gWar: 135,
	gWestern: 112,
}

// Title parts.
var (
	titleAdjectives = []string{
		"Silent", "Iron", "Crimson", "Hidden", "Broken", "Golden", "Distant",
		"Forgotten", "Burning", "Frozen", "Wild", "Hollow", "Velvet",
		"Electric", "Shattered", "Secret", "Eternal", "Lonely", "Dark",
		"Bright", "Savage", "Quiet", "Restless", "Scarlet", "Emerald",
		"Silver", "Paper", "Glass", "Lost", "Fallen", "Endless", "Final",
		"Wicked", "Gentle", "Reckless", "Northern", "Sleeping", "Invisible",
		"Perfect", "Little", "Black", "Blue", "Stolen", "Haunted", "Painted",
		"Sacred", "Rising", "Wandering", "Midnight", "Violet", "Copper",
		"Last", "Crooked", "Bitter", "Hungry", "Neon",
	}
	titleNouns = []string{
		"Harbor", "Wolf", "River", "Kingdom", "Garden", "Horizon", "Empire",
		"Mirror", "Storm", "Shadow", "Promise", "Road", "Frontier", "Signal",
		"Orchard", "Lighthouse", "Carnival", "Witness", "Stranger",
		"Detective", "Machine", "Voyage", "Island", "Crown", "Letter",
		"Season", "Bridge", "Compass", "Labyrinth", "Prophecy", "Station",
		"Circus", "Fortress", "Hunter", "Dancer", "Ghost", "Summer", "Winter",
		"Dream", "Heart", "Sky", "Ocean", "Desert", "Forest", "City", "Train",
		"House", "Game", "Code", "Star", "Moon", "Fire", "Rain", "Legacy",
		"Covenant", "Outpost", "Colony", "Symphony", "Serenade", "Alibi",
		"Verdict", "Getaway", "Heist", "Rebellion", "Requiem", "Tide",
		"Canyon", "Valley", "Pilgrim", "Saint", "Angel", "Meridian",
	}
	titlePlurals = []string{
		"Echoes", "Shadows", "Whispers", "Ghosts", "Chronicles", "Songs",
		"Tales", "Children", "Days", "Nights", "Secrets", "Sons", "Daughters",
		"Rivers", "Wings", "Streets", "Kings", "Sins", "Lords", "Dreams",
		"Ashes", "Voices", "Seasons", "Gardens", "Letters", "Saints",
	}
	titleAbstracts = []string{
		"Tomorrow", "Yesterday", "Silence", "Glory", "Fortune", "Destiny",
		"Vengeance", "Honor", "Desire", "Memory", "Time", "Fire", "Dust",
		"Thunder", "Innocence", "Sorrow", "Courage", "the Past", "the Fallen",
		"the Forgotten", "the Deep", "the Night", "Winter", "Paradise",
		"the Sun", "the Sea", "Eden", "Light",
	}
	titlePlaces = []string{
		"Verona", "Tokyo", "Casablanca", "Marrakesh", "Havana", "Berlin",
		"Paris", "Lisbon", "Vienna", "Shanghai", "Brooklyn", "Manhattan",
		"Montana", "Texas", "Alaska", "Monaco", "Prague", "Istanbul", "Cairo",
		"Budapest", "Rio", "Dublin", "Naples", "Memphis", "Nevada", "Saigon",
		"Kyoto", "Venice", "Barcelona", "Santa Fe", "Tangier", "Macau",
		"Sicily", "Bombay", "Harlem", "Chinatown", "Mexico", "Oklahoma",
	}
	titleTimes = []string{
		"Midnight", "Summer", "Winter", "Autumn", "Spring", "Sunday",
		"Christmas", "Dawn", "Twilight", "Saturday Night", "A Weekend",
		"One Night", "Last Summer", "Sunset", "Murder", "Love", "Death",
		"Trouble", "Strangers", "Lost",
	}
	titlePrefixes = []string{
		"Escape from", "Letters from", "Welcome to", "Night Train to",
		"Road to", "Goodbye", "Return to", "The Road to", "Farewell to",
		"Postcards from", "Somewhere in", "Far from", "The Man from",
		"The Girl from", "Last Exit to",
	}
	titleNames = []string{
		"Charlie", "Lola", "Max", "Rosie", "Jack", "Eleanor", "Henry", "Ruby",
		"Oscar", "Frankie", "Harriet", "Leo", "Molly", "Walter", "Vera",
		"Hugo", "Iris", "Otto", "Stella", "Felix", "Mabel", "Theo", "Nina",
		"Sam", "Agnes",
	}
	titleSingles = []string{
		"Labyrinth", "Undertow", "Afterglow", "Crossfire", "Vertigo",
		"Nightfall", "Blackout", "Homecoming", "Wildflower", "Downpour",
		"Checkmate", "Redemption", "Outlaw", "Monsoon", "Driftwood",
		"Stargazer", "Firebrand", "Heartland", "Sandcastle", "Overdrive",
		"Lullaby", "Bloodline", "Starfall", "Ironclad", "Riptide",
	}
)

// Description parts, per genre. Subjects are lower-case noun phrases that
// read as singular or plural alike before "must" and "will".
type genreWords struct {
	subjects []string
	goals    []string
	events   []string
	settings []string
	taglines []string
}

var genreText = [numGenres]genreWords{
	gAction: {
		subjects: []string{"a former special forces operative", "a retired hitman", "a rookie cop", "an ex-con getaway driver", "a bodyguard with nothing left to lose", "a disavowed spy"},
		goals:    []string{"take down a ruthless arms cartel", "rescue a kidnapped diplomat", "stop a hijacked train", "clear their name", "protect a key witness", "recover a stolen warhead"},
		events:   []string{"a routine escort mission goes wrong", "an old enemy resurfaces", "a bank job turns into a hostage crisis", "their partner is framed for murder"},
		settings: []string{"in {place}", "across three continents", "in forty-eight hours", "on a skyscraper in {place}"},
		taglines: []string{"No rules. No backup. No second chances.", "Some debts can only be paid in full.", "The clock is ticking."},
	},
	gAdventure: {
		subjects: []string{"a young cartographer", "a washed-up treasure hunter", "two unlikely companions", "a ship's cook", "an eccentric archaeologist", "a runaway heiress"},
		goals:    []string{"find a legendary lost city", "cross an uncharted desert", "track down a stolen relic", "sail to the edge of the known world", "find the father they never knew"},
		events:   []string{"an ancient map turns up in an attic", "their plane goes down in the jungle", "a mysterious stranger offers a fortune"},
		settings: []string{"in the Amazon", "across the Sahara", "in the Himalayas", "on the high seas", "in {place}"},
		taglines: []string{"The journey is the treasure.", "Every map leads somewhere.", "Adventure has a new address."},
	},
	gAnimation: {
		subjects: []string{"a curious little robot", "a brave young fox", "a lonely dragon", "a clumsy penguin", "a toy who has lost its owner", "a family of mice"},
		goals:    []string{"find the way home", "save their forest from developers", "prove that they can fly", "win the big race", "reunite a family"},
		events:   []string{"a storm sweeps them far from home", "the magic lantern goes dark", "the circus comes to town"},
		settings: []string{"in a world of talking animals", "beneath the city streets", "in the kingdom of toys", "on a floating island"},
		taglines: []string{"Big adventures come in small packages.", "Fun for the whole family.", "Friendship is the greatest magic."},
	},
	gChildren: {
		subjects: []string{"a shy ten-year-old", "three best friends", "a runaway puppy", "a girl and her grandfather", "a boy with an imaginary friend"},
		goals:    []string{"save the school science fair", "find a missing treasure", "rescue a stranded baby whale", "keep a secret from the grown-ups"},
		events:   []string{"summer vacation starts", "a spaceship lands in the backyard", "the new kid arrives at school"},
		settings: []string{"in a sleepy seaside town", "during summer camp", "in {place}"},
		taglines: []string{"Growing up was never this much fun.", "An adventure for all ages."},
	},
	gComedy: {
		subjects: []string{"a hopelessly disorganized wedding planner", "two mismatched roommates", "an overconfident weatherman", "a struggling stand-up comic", "a family of eccentrics", "a mild-mannered accountant"},
		goals:    []string{"pull off the perfect wedding", "win back an ex", "survive a week with the in-laws", "fake their way through a cooking competition", "return a stolen goat before Monday"},
		events:   []string{"a case of mistaken identity spirals out of control", "grandma's will leaves them a failing hotel", "a road trip goes wildly off course"},
		settings: []string{"in {place}", "over one chaotic weekend", "at a family reunion", "on the world's worst vacation"},
		taglines: []string{"What could possibly go wrong?", "Laughter is the best revenge.", "Family: can't live with them, can't lose them."},
	},
	gCrime: {
		subjects: []string{"a disgraced detective", "a small-time crook", "an honest accountant", "a crooked city councilman", "a getaway driver", "a young public defender"},
		goals:    []string{"pull off one last job", "bring down a crime family", "solve a string of jewel thefts", "get out of the mob alive", "expose a corrupt police captain"},
		events:   []string{"a perfect robbery goes wrong", "a body turns up in the harbor", "a briefcase of cash falls into their lap"},
		settings: []string{"in 1970s {place}", "in {place}", "on the streets of {place}"},
		taglines: []string{"Crime doesn't pay. Until it does.", "Everyone has a price.", "Based on a true story."},
	},
	gDocumentary: {
		subjects: []string{"a family of beekeepers", "the last lighthouse keepers of Maine", "three young chess prodigies", "the engineers behind a failed moon mission", "a legendary jazz drummer", "a small-town newspaper", "the free divers of the Philippines", "a team of wildlife vets"},
		taglines: []string{"Featuring never-before-seen archival footage.", "Filmed over five years.", "An unforgettable true story.", "Told in their own words."},
	},
	gDrama: {
		subjects: []string{"a grieving widower", "two estranged sisters", "a small-town schoolteacher", "an aging concert pianist", "a young immigrant", "a factory worker", "a single father"},
		goals:    []string{"rebuild a life after tragedy", "reconnect with a dying parent", "keep the family farm", "make peace with the past", "fight for custody of their son"},
		events:   []string{"the mill closes", "a long-buried letter is found", "an old friend returns to town", "a diagnosis changes everything"},
		settings: []string{"in {place}", "in post-war {place}", "in a fading industrial town", "over one unforgettable summer"},
		taglines: []string{"A story about second chances.", "Based on a true story.", "Some bonds can never be broken.", "Hope is the hardest thing to lose."},
	},
	gFantasy: {
		subjects: []string{"an apprentice sorceress", "an exiled prince", "a humble blacksmith", "the last of the dragon riders", "a thief with a cursed ring", "a reluctant chosen one"},
		goals:    []string{"break an ancient curse", "reclaim a stolen throne", "destroy a dark relic", "unite the warring kingdoms", "find the fabled Well of Ages"},
		events:   []string{"the moon turns red", "a dragon egg hatches", "the old king dies without an heir"},
		settings: []string{"in a realm of forgotten magic", "beyond the northern mountains", "in the enchanted forest"},
		taglines: []string{"Magic always comes at a price.", "Legends never die.", "The prophecy has begun."},
	},
	gFilmNoir: {
		subjects: []string{"a world-weary private eye", "an insurance investigator", "a down-on-his-luck boxer", "a nightclub singer", "a returning veteran"},
		goals:    []string{"find out who killed a millionaire", "escape a frame-up", "track down a missing heiress", "get out of a deadly bargain"},
		events:   []string{"a beautiful stranger walks into the office", "a client turns up dead", "a fortune goes missing"},
		settings: []string{"in rain-soaked {place}", "in {place}", "in the city's underworld"},
		taglines: []string{"Nobody is innocent.", "She was trouble from the start."},
	},
	gHorror: {
		subjects: []string{"a young couple", "a group of college friends", "a night-shift nurse", "a grieving mother", "a paranormal investigator", "a family of five"},
		goals:    []string{"survive the night", "escape a house that will not let them go", "stop an ancient evil", "uncover what killed the previous tenants"},
		events:   []string{"they move into a secluded farmhouse", "a cursed videotape surfaces", "the power goes out across town", "a ouija board is found in the attic"},
		settings: []string{"in a remote cabin", "in an abandoned asylum", "in a quiet suburb", "deep in the woods"},
		taglines: []string{"Some doors should stay closed.", "Some secrets refuse to stay buried.", "Don't turn off the lights."},
	},
	gIMAX: {},
	gMusical: {
		subjects: []string{"an aspiring Broadway dancer", "a street musician", "a small-town choir director", "a jazz singer", "a struggling songwriter"},
		goals:    []string{"win the national championship", "save a beloved theater", "make it big", "write the song of a lifetime"},
		events:   []string{"a talent scout comes to town", "the old theater is sold", "the band breaks up"},
		settings: []string{"in {place}", "on Broadway", "in 1920s {place}"},
		taglines: []string{"Follow the music.", "Every heart has a song."},
	},
	gMystery: {
		subjects: []string{"an amateur sleuth", "a crossword editor", "a village librarian", "a retired inspector", "a true-crime podcaster"},
		goals:    []string{"solve a decades-old disappearance", "unmask a killer among the guests", "decode a dead man's last message", "find out what really happened"},
		events:   []string{"a guest is found dead at a country wedding", "an anonymous letter arrives", "a skeleton turns up in the garden"},
		settings: []string{"in a snowbound manor", "in a sleepy English village", "aboard a luxury train", "in {place}"},
		taglines: []string{"Nothing is what it seems.", "Everyone is a suspect.", "Some secrets refuse to stay buried."},
	},
	gRomance: {
		subjects: []string{"a cynical food critic", "a widowed florist", "two pen pals", "a lighthouse keeper", "a wedding photographer", "a workaholic lawyer"},
		goals:    []string{"find love in the most unlikely place", "choose between two loves", "win back the one that got away", "fall in love again"},
		events:   []string{"a missed train brings two strangers together", "an old love letter resurfaces", "a summer fling turns serious"},
		settings: []string{"in {place}", "over one summer in {place}", "at a vineyard in Tuscany"},
		taglines: []string{"Love finds a way.", "Some people are worth the wait.", "A love story for the ages."},
	},
	gSciFi: {
		subjects: []string{"a lone astronaut", "a brilliant but reckless engineer", "the crew of a deep-space freighter", "an android", "a time-traveling physicist", "the last colonists of Mars"},
		goals:    []string{"make contact with an alien intelligence", "save a dying Earth", "outwit a rogue artificial intelligence", "undo a catastrophe that has already happened", "find a new home for humanity"},
		events:   []string{"a mysterious signal arrives from deep space", "the machines stop obeying", "time starts running backward"},
		settings: []string{"aboard a dying space station", "on a distant colony", "in the year 2187", "in a city ruled by machines"},
		taglines: []string{"The future is not what it used to be.", "In space, every choice is final.", "Humanity's last hope."},
	},
	gThriller: {
		subjects: []string{"a journalist", "a key witness", "a reformed hacker", "an air traffic controller", "a single mother", "a federal agent"},
		goals:    []string{"expose a government conspiracy", "find their kidnapped daughter", "prevent an assassination", "stay one step ahead of a killer"},
		events:   []string{"a stranger's phone is left behind on the subway", "a routine audit uncovers a cover-up", "a wrong number turns deadly"},
		settings: []string{"in {place}", "before midnight", "in twenty-four hours"},
		taglines: []string{"Trust no one.", "The truth will cost everything.", "Nothing is what it seems."},
	},
	gWar: {
		subjects: []string{"a young medic", "a platoon of exhausted soldiers", "a resistance courier", "a bomber crew", "a reluctant officer"},
		goals:    []string{"hold a bridge against impossible odds", "bring their men home", "deliver a message that could end the war", "survive behind enemy lines"},
		events:   []string{"the front line collapses", "their unit is cut off", "orders arrive that no one wants to follow"},
		settings: []string{"in the winter of 1944", "in occupied {place}", "in the jungles of Vietnam", "on the beaches of Normandy"},
		taglines: []string{"Based on a true story.", "War changes everyone.", "Courage is not the absence of fear."},
	},
	gWestern: {
		subjects: []string{"a retired gunslinger", "a frontier sheriff", "a widowed rancher", "a bounty hunter", "a young drifter"},
		goals:    []string{"bring an outlaw to justice", "defend a homestead from cattle barons", "avenge a murdered brother", "drive a herd across the territory"},
		events:   []string{"the railroad comes to town", "a stagecoach is robbed", "a gang of outlaws rides in"},
		settings: []string{"in the Arizona Territory", "on the Texas frontier", "in a dusty border town"},
		taglines: []string{"Justice rides alone.", "The West was never tamed."},
	},
}

// Generic description parts, used for IMAX-only movies and mixed in.
var (
	genericSettings = []string{"in {place}", "in a small town", "over one long weekend", "in a city that never sleeps", "on a remote island"}
	genericTaglines = []string{"Nothing will ever be the same.", "A story of love, loss and second chances.", "Some journeys change everything.", "Nothing is what it seems.", "One choice can change everything."}
	docSettings     = []string{"in {place}", "over five remarkable years", "in their final season", "around the world"}
	descPlaces      = []string{"Naples", "Chicago", "Berlin", "Tokyo", "Lisbon", "Marseille", "New Orleans", "Detroit", "Havana", "Istanbul", "Buenos Aires", "Glasgow", "Los Angeles", "San Francisco", "Hong Kong", "Montreal", "Vienna", "Mumbai", "Cape Town", "Dublin"}
)

// tagDef is one tag of the catalog: the genres it goes with (none: any
// movie), and the mood it expresses (+1 only on liked movies, -1 only on
// disliked ones).
type tagDef struct {
	name   string
	genres []int
	mood   int
	// cond restricts the tag to some movies; nil: no restriction.
	cond func(m *movieInfo) bool
}

var tagDefs = []tagDef{
	{name: "atmospheric", genres: []int{gHorror, gMystery, gFilmNoir, gSciFi, gThriller, gFantasy}},
	{name: "twist ending", genres: []int{gThriller, gMystery, gHorror, gCrime}},
	{name: "based on a book"},
	{name: "dark comedy", genres: []int{gComedy, gCrime}},
	{name: "visually stunning", genres: []int{gSciFi, gFantasy, gAnimation, gIMAX, gAdventure}, mood: 1},
	{name: "great soundtrack", genres: []int{gMusical, gDrama, gRomance}, mood: 1},
	{name: "slow burn", genres: []int{gDrama, gThriller, gHorror, gMystery}},
	{name: "cult classic", genres: []int{gHorror, gComedy, gSciFi}, mood: 1},
	{name: "classic", mood: 1, cond: func(m *movieInfo) bool { return m.year < 1990 && m.imdb >= 7 }},
	{name: "black and white", cond: func(m *movieInfo) bool { return m.year < 1966 }},
	{name: "quotable", genres: []int{gComedy, gAction, gCrime}, mood: 1},
	{name: "thought-provoking", genres: []int{gDrama, gSciFi, gDocumentary, gWar}, mood: 1},
	{name: "beautiful cinematography", genres: []int{gDrama, gWestern, gWar, gRomance, gIMAX}, mood: 1},
	{name: "nonlinear", genres: []int{gDrama, gCrime, gMystery, gSciFi}},
	{name: "ensemble cast", genres: []int{gComedy, gDrama, gCrime}},
	{name: "underrated", mood: 1},
	{name: "overrated", mood: -1},
	{name: "predictable", mood: -1},
	{name: "boring", mood: -1},
	{name: "too long", mood: -1, cond: func(m *movieInfo) bool { return m.duration >= 125 }},
	{name: "feel-good", genres: []int{gComedy, gChildren, gMusical, gRomance, gAnimation}, mood: 1},
	{name: "tearjerker", genres: []int{gDrama, gRomance, gWar}},
	{name: "masterpiece", mood: 1},
	{name: "must see", mood: 1},
	{name: "great acting", genres: []int{gDrama, gCrime, gWar}, mood: 1},
	{name: "strong female lead", genres: []int{gAction, gSciFi, gDrama, gThriller}},
	{name: "based on a true story", genres: []int{gDrama, gWar, gCrime, gDocumentary}},
	{name: "sequel", cond: func(m *movieInfo) bool { return m.sequel }},
	{name: "surreal", genres: []int{gFantasy, gSciFi, gDrama}},
	{name: "stylized", genres: []int{gAction, gCrime, gFilmNoir}},
	{name: "dialogue-driven", genres: []int{gDrama, gComedy, gRomance}},
	{name: "dystopia", genres: []int{gSciFi}},
	{name: "time travel", genres: []int{gSciFi}},
	{name: "space", genres: []int{gSciFi, gIMAX}},
	{name: "aliens", genres: []int{gSciFi, gHorror}},
	{name: "artificial intelligence", genres: []int{gSciFi}},
	{name: "post-apocalyptic", genres: []int{gSciFi, gAction}},
	{name: "zombies", genres: []int{gHorror}},
	{name: "vampires", genres: []int{gHorror, gFantasy}},
	{name: "haunted house", genres: []int{gHorror}},
	{name: "serial killer", genres: []int{gThriller, gCrime, gHorror}},
	{name: "gore", genres: []int{gHorror}, mood: -1},
	{name: "jump scares", genres: []int{gHorror}},
	{name: "heist", genres: []int{gCrime, gThriller}},
	{name: "revenge", genres: []int{gAction, gThriller, gWestern, gCrime}},
	{name: "car chase", genres: []int{gAction, gCrime}},
	{name: "martial arts", genres: []int{gAction}},
	{name: "superhero", genres: []int{gAction, gSciFi, gIMAX}},
	{name: "survival", genres: []int{gAdventure, gThriller, gWar}},
	{name: "satire", genres: []int{gComedy}},
	{name: "parody", genres: []int{gComedy}},
	{name: "witty", genres: []int{gComedy, gRomance}, mood: 1},
	{name: "romantic comedy", genres: []int{gRomance, gComedy}},
	{name: "coming of age", genres: []int{gDrama, gComedy, gChildren}},
	{name: "family", genres: []int{gChildren, gAnimation}},
	{name: "musical numbers", genres: []int{gMusical}},
	{name: "world war ii", genres: []int{gWar}},
	{name: "historical", genres: []int{gDrama, gWar, gWestern}},
	{name: "courtroom", genres: []int{gDrama, gCrime}},
	{name: "detective", genres: []int{gMystery, gCrime, gFilmNoir}},
	{name: "femme fatale", genres: []int{gFilmNoir, gThriller}},
	{name: "gritty", genres: []int{gCrime, gWar, gWestern, gAction}},
	{name: "magic", genres: []int{gFantasy, gChildren}},
	{name: "dragons", genres: []int{gFantasy}},
	{name: "fairy tale", genres: []int{gFantasy, gAnimation, gChildren}},
	{name: "nature", genres: []int{gDocumentary}},
	{name: "music documentary", genres: []int{gDocumentary, gMusical}},
	{name: "spaghetti western", genres: []int{gWestern}},
}
