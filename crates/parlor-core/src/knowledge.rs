//! The built-in knowledge engine: answers from the chatbot's own documents, offline and
//! deterministically. (Filled in by the completions work.)
