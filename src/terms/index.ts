export { termsMigrations } from './migrations.js';
export { Terms, defaultTermsEndpoint, type Exchange, type ExchangeState, type TermsStanding, type TermsClaim, type TermsDeps, type WantedTerms } from './terms.js';
export { TermsExchange, type TermsExchangeDeps } from './exchange.js';
export { TERMS_FORMAT, termsJsonSchemas, householdDocumentSchema, termsKey, signTerms, verifyTerms, signedBytes, documentBytes, profferDocument, acceptanceDocument, checkAnswer, agreementOf, answerSchema, type ProfferDocument, type AcceptanceDocument, type AnswerDocument, type TermsKey } from './documents.js';
export { ROSTER, DEFAULT_TERM, TERMS, isTermId, termRef, type TermId } from './roster.js';
