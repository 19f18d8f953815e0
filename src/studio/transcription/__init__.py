"""Speech to text: a person's recorded voice becomes text, through a connection whose
vendor transcribes (Whisper's API: POST /audio/transcriptions), while they wait."""
