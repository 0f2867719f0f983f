"""The answering stage: retrieved evidence -> answer text with cited sentences, or an abstention.

One module per job:

- draft.py: the Draft every answerer returns, the Answerer protocol, how a cited sentence is stated
- extractive.py: the default answerer, no LLM (Extractive)
- claims.py: which sentences state a claim and which corroborate it (claims_from)
- multihop.py: rules for two-fact questions (second_fact, subject_of, continuation, names_subject)
- citer.py: the learned two-document citer (Citer, fitted by eval/train_citer.py into qa/citer.json)
- llm.py: the optional LLM answerers (make_answerer), each answer sentence checked against its
  citations by grounding.py (ClaimCheck, fitted by eval/calibrate_claims.py into
  qa/models/claims.json)
"""

from qa.answer.claims import claims_from
from qa.answer.draft import Answerer, Draft, abstention
from qa.answer.extractive import Extractive
from qa.answer.llm import LLMAnswerer, make_answerer

__all__ = ["Answerer", "Draft", "Extractive", "LLMAnswerer", "abstention", "claims_from", "make_answerer"]
