"""Studio as an OpenAI-compatible endpoint (/openai/v1): any OpenAI client (the official
SDKs, editors, agents) uses Studio as its one gateway to every configured vendor,
authenticated with a Studio API key, through the same registry, rate limits, quotas,
usage records and RLS as the rest of the API."""
