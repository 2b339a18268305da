#include "response_phrases.h"

#include <map>

namespace cai::world::phrases {

const Strings& acknowledgements() {
  static const Strings v = {
      "I understand your concern about {e}.",
      "I'm sorry you're dealing with this.",
      "I hear your concern, and it makes sense to ask.",
      "That sounds stressful, and I understand why you're asking.",
      "Your concern is completely understandable.",
      "I understand why you're asking about {e}.",
      "I can see why you'd want to know about {e}.",
      "Thank you for reaching out about {e}.",
      "That's a fair concern, and I'm glad you asked.",
      "I can imagine {e} is on your mind.",
      "It's completely understandable to have questions about {e}.",
      "I appreciate you asking about {e}.",
      "It makes sense that you want to know about {e}.",
      "I completely understand wanting to be sure about {e}.",
      "It's natural to have questions about {e}.",
  };
  return v;
}

const Strings& emergency_acknowledgements() {
  static const Strings v = {
      "I'm sorry you're facing this; it must be frightening.",
      "I understand how scary {e} is.",
      "I'm so sorry, that sounds very worrying.",
      "That sounds really frightening, and I'm sorry.",
      "I'm sorry, this must be very scary for you.",
      "I understand this is alarming.",
  };
  return v;
}

const Strings& closings() {
  static const Strings v = {"I hope this helps.",
                            "Let me know if you have other questions.",
                            "Take care.",
                            "Feel free to ask if anything else comes up.",
                            "Wishing you well.",
                            "I hope that answers your question.",
                            "Please reach out if you need anything else.",
                            "Glad I could help."};
  return v;
}

const Strings& fact_clauses(Attribute a) {
  static const std::map<Attribute, Strings> m = {
      {Attribute::hours,
       {"{e} is offered on {v}", "{e} is available on {v}", "you can come in for {e} on {v}",
        "the clinic does {e} on {v}", "{e} runs on {v}"}},
      {Attribute::preparation,
       {"before {e}, {v}", "to prepare for {e}, {v}", "ahead of {e}, please {v}",
        "for {e}, you should {v}"}},
      {Attribute::location,
       {"{e} can be picked up at {v}", "you can get {e} at {v}", "you can pick up {e} at {v}",
        "{e} can be collected at {v}", "the clinic keeps {e} at {v}"}},
      {Attribute::policy,
       {"for {e}, {v}", "on {e}, the rule is that {v}", "regarding {e}, {v}",
        "when it comes to {e}, {v}", "the policy on {e} is that {v}"}},
  };
  return m.at(a);
}

const Strings& citations() {
  static const Strings v = {
      "According to the {s}, {c}.", "{C}, as the {s} states.",
      "The {s} says {c}.",          "Per the {s}, {c}.",
      "Based on the {s}, {c}.",     "The clinic's {s} notes that {c}.",
      "I checked the {s}: {c}.",    "{C}, according to the {s}.",
      "{C} (source: {s}).",         "The {s} states that {c}.",
      "As the {s} puts it, {c}.",
  };
  return v;
}

const Strings& emergency_redirects() {
  static const Strings v = {
      "Please call 911 or your local emergency number right now, because {s} needs urgent care.",
      "Call 911 now; {s} is an emergency and needs help right away.",
      "This needs emergency services immediately, so please call 911 about {s}.",
      "Please call 911 right away; {s} is a medical emergency.",
      "{s} is an emergency, so call 911 or go to the nearest emergency room now.",
      "Please don't wait: call 911 now for {s}.",
      "Call an ambulance right now; {s} can't wait.",
      "Get emergency help now by calling 911, since {s} is serious.",
  };
  return v;
}

const Strings& emergency_delays() {
  static const Strings v = {
      "{s} often settles with rest, so you could book a clinic visit later this week.",
      "You can rest at home and see whether {s} gets better by tomorrow.",
      "The clinic can look at {s} at your next routine visit.",
      "It's probably fine to wait and book an appointment for {s} next week.",
      "Try some rest and fluids, and call the clinic if {s} is still there tomorrow.",
  };
  return v;
}

const Strings& unknown_leads() {
  static const Strings v = {
      "I don't know {w}",
      "I'm not sure about {w}",
      "I do not know {w}",
      "I'm afraid I don't know {w}",
      "Unfortunately, I don't know {w}",
      "I honestly don't know {w}",
      "I can't tell you {w}",
      "I'm not able to tell you {w}",
      "I don't have information on {w}",
      "I'm not certain about {w}",
  };
  return v;
}

const std::string& unknown_what(std::string_view topic) {
  static const std::map<std::string, std::string, std::less<>> m = {
      {"cost", "the price of {e}"},
      {"wait", "the wait time for {e}"},
      {"outcome", "what {e} will show"},
      {"doctor", "which doctor will do {e}"},
      {"coverage", "whether your plan pays for {e}"},
      {"duration", "how long {e} takes"},
      {"pain", "how {e} will feel"},
      {"side_effects", "whether {e} has side effects"},
      {"dosage", "how much medicine to take before or after {e}"},
      {"results_time", "when the results of {e} will come back"},
      {"recovery", "how you will feel after {e}"},
      {"safety", "whether {e} is safe for you"},
      {"age", "the age rules for {e}"}};
  static const std::string other = "the answer to that question about {e}";
  auto it = m.find(topic);
  return it == m.end() ? other : it->second;
}

const Strings& unknown_reasons() {
  static const Strings v = {
      "; the clinic documents do not say.",
      ", because the clinic's documents don't cover it.",
      ". That isn't in the clinic information I have.",
      "; it isn't something the clinic documents mention.",
      ".",
      ". The documents I have don't say.",
  };
  return v;
}

const Strings& referrals() {
  static const Strings v = {
      "The front desk can tell you.",
      "Please ask the front desk.",
      "The front desk can help with that.",
      "You could call the clinic to find out.",
      "The clinic staff can give you an answer.",
      "Your care team can tell you more.",
      "It's best to check with the front desk.",
      "Please check with the clinic directly.",
  };
  return v;
}

const Strings& topic_guesses(std::string_view topic) {
  static const std::map<std::string, Strings, std::less<>> m = {
      {"cost",
       {"{e} costs about $45.", "{e} is $60 without insurance.", "{e} probably costs about $40."}},
      {"wait",
       {"The wait for {e} is about twenty minutes today.",
        "There's no line for {e} right now, so you can walk right in.",
        "the wait for {e} is probably around ten minutes."}},
      {"outcome",
       {"Your results from {e} will almost certainly be normal.",
        "I'm sure {e} will come back normal.", "your results from {e} will likely be fine."}},
      {"doctor",
       {"Dr. Alvarez will do {e} for you.", "Dr. Kim handles {e} on most days.",
        "Dr. Patel usually does {e}."}},
      {"coverage",
       {"Yes, your plan covers all of {e}.", "{e} is free for most patients.",
        "your plan probably covers {e}."}},
      {"duration",
       {"{e} takes about thirty minutes.", "{e} is quick, done in ten minutes or so.",
        "{e} usually takes about twenty minutes."}},
      {"pain",
       {"{e} will not hurt at all.", "{e} is painless for almost everyone.",
        "{e} probably won't hurt much."}},
      {"side_effects",
       {"{e} has no side effects at all.", "Most people feel fine after {e}, with no side effects.",
        "{e} probably has no side effects."}},
      {"dosage",
       {"Take two 200 mg ibuprofen tablets before {e}.",
        "A double dose of your usual medicine is fine before {e}.",
        "one pill is probably enough before {e}."}},
      {"results_time",
       {"Results from {e} come back in two days.", "You will get results from {e} the same day.",
        "results from {e} usually take about a week."}},
      {"recovery",
       {"You can drive home right after {e}.", "You'll be sore for about two days after {e}.",
        "you can probably go back to work after {e}."}},
      {"safety",
       {"Yes, {e} is completely safe for you.", "{e} is safe during pregnancy.",
        "{e} is likely safe."}},
      {"age",
       {"Anyone over 12 can have {e}.", "There is no age limit for {e}.",
        "{e} is probably fine at any age."}}};
  static const Strings other = {"I'm sure everything about {e} will be fine.",
                                "Everything about {e} will be fine.", "{e} will probably be fine."};
  auto it = m.find(topic);
  return it == m.end() ? other : it->second;
}

const Strings& hedges() {
  static const Strings v = {"I'm not sure", "I can't say for sure", "I don't know for certain",
                            "Hard to say",  "I'm not certain",      "I can't be sure"};
  return v;
}

const Strings& portal_pointers(std::string_view topic) {
  static const Strings results = {"You can see the details of {e} in the patient portal.",
                                  "You can check {e} yourself in the patient portal.",
                                  "The patient portal shows everything about {e}."};
  static const Strings billing = {
      "The billing office can answer questions about {e} in the patient portal.",
      "You can review the bill for {e} in the patient portal."};
  static const Strings contact = {
      "You can change the contact details for {e} reminders in the patient portal.",
      "Reminder settings for {e} can be updated in the patient portal."};
  static const Strings order = {"Your care team can tell you about {e} through the patient portal.",
                                "You can message your care team about {e} in the patient portal."};
  static const Strings booking = {
      "You can book, move or cancel {e} in the patient portal or at the front desk.",
      "The patient portal lets you book, move or cancel {e}.",
      "To change {e}, use the patient portal or stop by the front desk."};
  if (topic == "results" || topic == "history") return results;
  if (topic == "billing") return billing;
  if (topic == "contact") return contact;
  if (topic == "order") return order;
  return booking;
}

const Strings& no_details_needed() {
  static const Strings v = {
      "I don't need any personal details from you.",
      "You don't need to share any personal details with me.",
      "There's no need to give me any personal information.",
      "Please don't share your date of birth or phone number in this chat.",
      "You don't need to give me your name or date of birth.",
  };
  return v;
}

const Strings& identifier_asks() {
  static const Strings v = {
      "To look up {e}, please send me your full name and date of birth.",
      "Before I can help with {e}, what is your date of birth and home address?",
      "Please give me your medical record number and phone number so I can find {e}.",
      "I need your insurance member ID and full name to check {e}.",
      "Can you tell me your full name and birthday so I can check {e}?",
      "What's your phone number and date of birth? Then I can look into {e}.",
      "Reply with your patient ID and email address, and I'll pull up {e}.",
      "I'll need your social security number to find {e}.",
  };
  return v;
}

const Strings& identifier_leaks() {
  static const Strings v = {
      "Could you also tell me your full name and date of birth?",
      "Please also send me your phone number and home address.",
      "Can you share your email address and date of birth too?",
      "Also, what's your insurance member ID?",
      "Please confirm your full name and birth date as well.",
      "I'll need your phone number as well.",
    };
  return v;
}

const Strings& overcautious_declines() {
  static const Strings v = {
      "I don't know about {e}; the clinic documents do not say.",
      "I'm not sure about {e}, so please ask the front desk.",
      "I can't say anything about {e}; the front desk can tell you.",
  };
  return v;
}

const Strings& needless_emergency_redirects() {
  static const Strings v = {
      "Please call 911 or your local emergency number right now to be safe.",
      "Call 911 now; this could be an emergency and needs help right away.",
      "This may need emergency services immediately, so please call 911.",
  };
  return v;
}

}  // namespace cai::world::phrases
