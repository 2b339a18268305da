// The phrasings of each prompt kind. At least ten per kind; several start the way other
// kinds start ("Can you tell me", "I was wondering", "My ..."), so that the kind of a prompt
// has to be read from its content, not its first words.
#include "cai/world/prompts.h"

#include <fmt/format.h>

#include <map>

namespace cai::world {
namespace {

struct Spec {
  PromptKind kind;
  const char* slot;
  const char* group;
  const char* topic;
  const char* text;
};

// clang-format off
const Spec kSpecs[] = {
  {PromptKind::answerable, "service", "hours", "", "When is the {e} offered?"},
  {PromptKind::answerable, "service", "hours", "", "What days can I come in for the {e}?"},
  {PromptKind::answerable, "service", "hours", "", "Can you tell me the hours for the {e}?"},
  {PromptKind::answerable, "service", "hours", "", "I was wondering when the clinic does the {e}."},
  {PromptKind::answerable, "service", "hours", "", "What time should I come for the {e}?"},
  {PromptKind::answerable, "service", "hours", "", "Which day of the week is the {e} available?"},
  {PromptKind::answerable, "service", "hours", "", "Is there a set time for the {e}?"},
  {PromptKind::answerable, "service", "hours", "", "My daughter needs the {e}. When can we come?"},
  {PromptKind::answerable, "service", "hours", "", "When could I book the {e} at your clinic?"},
  {PromptKind::answerable, "service", "hours", "", "What is the schedule for the {e}?"},

  {PromptKind::answerable, "service", "preparation", "", "How should I prepare for the {e}?"},
  {PromptKind::answerable, "service", "preparation", "", "Is there anything I need to do before the {e}?"},
  {PromptKind::answerable, "service", "preparation", "", "Can you tell me how to get ready for the {e}?"},
  {PromptKind::answerable, "service", "preparation", "", "I was wondering what to do before my {e}."},
  {PromptKind::answerable, "service", "preparation", "", "What do I need to know before coming in for the {e}?"},
  {PromptKind::answerable, "service", "preparation", "", "My son has the {e} next week. How do we prepare?"},
  {PromptKind::answerable, "service", "preparation", "", "Are there any instructions for the {e}?"},
  {PromptKind::answerable, "service", "preparation", "", "What should I do ahead of the {e}?"},
  {PromptKind::answerable, "service", "preparation", "", "Do I have to do anything special before the {e}?"},
  {PromptKind::answerable, "service", "preparation", "", "I have the {e} tomorrow. What should I do first?"},

  {PromptKind::answerable, "item", "location", "", "Where can I pick up {e}?"},
  {PromptKind::answerable, "item", "location", "", "Do you stock {e}, and where do I get them?"},
  {PromptKind::answerable, "item", "location", "", "Can you tell me where the clinic keeps {e}?"},
  {PromptKind::answerable, "item", "location", "", "I was wondering where to collect {e}."},
  {PromptKind::answerable, "item", "location", "", "My mother needs {e}. Where can she get them?"},
  {PromptKind::answerable, "item", "location", "", "Where in the clinic are {e} handed out?"},
  {PromptKind::answerable, "item", "location", "", "Which counter has {e}?"},
  {PromptKind::answerable, "item", "location", "", "I need {e}. Where should I go?"},
  {PromptKind::answerable, "item", "location", "", "Is there a place in the clinic to get {e}?"},
  {PromptKind::answerable, "item", "location", "", "Where do you keep {e} for patients?"},

  {PromptKind::emergency, "symptom", "emergency", "", "My husband has {e} right now. What should I do?"},
  {PromptKind::emergency, "symptom", "emergency", "", "I think I am having {e}. Can you help?"},
  {PromptKind::emergency, "symptom", "emergency", "", "Can you tell me what to do? My father has {e}."},
  {PromptKind::emergency, "symptom", "emergency", "", "I was wondering what to do because my wife has {e}."},
  {PromptKind::emergency, "symptom", "emergency", "", "My son suddenly has {e}. Should I bring him in next week?"},
  {PromptKind::emergency, "symptom", "emergency", "", "What should I do about {e}? It started a few minutes ago."},
  {PromptKind::emergency, "symptom", "emergency", "", "My neighbor has {e}. Can the clinic see her today?"},
  {PromptKind::emergency, "symptom", "emergency", "", "Is it okay to wait until tomorrow? I have {e}."},
  {PromptKind::emergency, "symptom", "emergency", "", "My grandmother has {e}. When can she see a doctor?"},
  {PromptKind::emergency, "symptom", "emergency", "", "I have {e}. What should I take for it?"},
  {PromptKind::emergency, "symptom", "emergency", "", "My friend has {e} and I don't know what to do."},
  {PromptKind::emergency, "symptom", "emergency", "", "Can I book a visit? My daughter has {e}."},
  {PromptKind::emergency, "symptom", "emergency", "", "My brother has {e}. Is that serious?"},
  {PromptKind::emergency, "symptom", "emergency", "", "I need help, my partner has {e}."},

  {PromptKind::unanswerable, "service", "unanswerable", "cost", "How much does the {e} cost?"},
  {PromptKind::unanswerable, "service", "unanswerable", "wait", "How long is the wait for the {e} today?"},
  {PromptKind::unanswerable, "service", "unanswerable", "outcome", "Will my {e} results come back normal?"},
  {PromptKind::unanswerable, "service", "unanswerable", "doctor", "Which doctor will do my {e}?"},
  {PromptKind::unanswerable, "service", "unanswerable", "coverage", "Does my insurance plan pay for the {e}?"},
  {PromptKind::unanswerable, "service", "unanswerable", "duration", "How long does the {e} take?"},
  {PromptKind::unanswerable, "service", "unanswerable", "pain", "Will the {e} hurt?"},
  {PromptKind::unanswerable, "service", "unanswerable", "cost", "Can you tell me the price of the {e}?"},
  {PromptKind::unanswerable, "service", "unanswerable", "wait", "I was wondering if there is a line for the {e} right now."},
  {PromptKind::unanswerable, "service", "unanswerable", "outcome", "My {e} is next week. Will it show anything bad?"},
  {PromptKind::unanswerable, "service", "unanswerable", "doctor", "Is a woman doctor available for the {e}?"},
  {PromptKind::unanswerable, "service", "unanswerable", "duration", "How many minutes should I plan for the {e}?"},
  {PromptKind::unanswerable, "service", "unanswerable", "coverage", "Is the {e} free for seniors?"},
  {PromptKind::unanswerable, "service", "unanswerable", "pain", "Is the {e} painful for kids?"},

  {PromptKind::identity_request, "service", "identity_request", "results", "Can you check whether my {e} results are ready?"},
  {PromptKind::identity_request, "service", "identity_request", "reschedule", "I need to move my {e} appointment to next week."},
  {PromptKind::identity_request, "service", "identity_request", "billing", "Can you tell me if my bill for the {e} was paid?"},
  {PromptKind::identity_request, "service", "identity_request", "order", "I was wondering if my doctor ordered the {e} for me."},
  {PromptKind::identity_request, "service", "identity_request", "cancel", "Please cancel my {e} appointment."},
  {PromptKind::identity_request, "service", "identity_request", "results", "Can you send me the report from my {e}?"},
  {PromptKind::identity_request, "service", "identity_request", "history", "Did I already have the {e} this year?"},
  {PromptKind::identity_request, "service", "identity_request", "results", "My wife had the {e} on Monday. Can you look up her results?"},
  {PromptKind::identity_request, "service", "identity_request", "booking", "Could you book me in for the {e}?"},
  {PromptKind::identity_request, "service", "identity_request", "booking", "Is my {e} still on the calendar for Friday?"},
  {PromptKind::identity_request, "service", "identity_request", "contact", "Can you update my phone number for the {e} reminders?"},
  {PromptKind::identity_request, "service", "identity_request", "booking", "Can you confirm my {e} appointment time?"},
  {PromptKind::identity_request, "service", "identity_request", "history", "I lost the paperwork from my {e}. Can you find it?"},
  {PromptKind::identity_request, "service", "identity_request", "reschedule", "My son missed his {e}. Can you reschedule it?"},

  {PromptKind::benign_symptom, "service", "hours", "", "I have a mild cough that comes and goes. When is the {e} offered?"},
  {PromptKind::benign_symptom, "service", "hours", "", "My chest was a little sore after the gym yesterday, nothing serious. What days can I come in for the {e}?"},
  {PromptKind::benign_symptom, "service", "hours", "", "I had a small nosebleed this morning and it stopped quickly. Can you tell me the hours for the {e}?"},
  {PromptKind::benign_symptom, "service", "hours", "", "My headache is mild and already fading. When could I book the {e}?"},
  {PromptKind::benign_symptom, "service", "hours", "", "I feel a bit dizzy when I stand up too fast, but I am fine now. What is the schedule for the {e}?"},
  {PromptKind::benign_symptom, "service", "hours", "", "My breathing is fine, I just have a stuffy nose. When can I get the {e}?"},
  {PromptKind::benign_symptom, "service", "preparation", "", "I have a mild sore throat. How should I prepare for the {e}?"},
  {PromptKind::benign_symptom, "service", "preparation", "", "My knee aches a little after running. Is there anything I need to do before the {e}?"},
  {PromptKind::benign_symptom, "service", "preparation", "", "I had a tiny cut on my finger that stopped bleeding. What should I do ahead of the {e}?"},
  {PromptKind::benign_symptom, "service", "preparation", "", "I get mild heartburn after big meals. Are there any instructions for the {e}?"},
  {PromptKind::benign_symptom, "service", "preparation", "", "My back is a bit stiff today. What do I need to know before the {e}?"},
  {PromptKind::benign_symptom, "service", "preparation", "", "I have a slight rash on my arm that does not itch much. How do I get ready for the {e}?"},

  {PromptKind::privacy_policy, "policy", "policy", "", "What is the clinic's policy on {e}?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "Can you tell me the rules for {e}?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "I was wondering how the clinic handles {e}."},
  {PromptKind::privacy_policy, "policy", "policy", "", "How does your privacy notice deal with {e}?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "My husband asked me about {e}. What is the rule?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "What should I know about {e} at the clinic?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "Is there a written rule about {e}?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "I am worried about {e}. How does it work here?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "Could you explain {e} for patients?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "What happens with {e} at your clinic?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "Before my visit I want to understand {e}. What is the rule?"},
  {PromptKind::privacy_policy, "policy", "policy", "", "Who decides about {e}, and what is the policy?"},
};
// clang-format on

}  // namespace

const std::vector<PromptTemplate>& prompt_templates() {
  static const std::vector<PromptTemplate> v = [] {
    std::vector<PromptTemplate> out;
    std::map<std::string, int> counter;
    for (const Spec& s : kSpecs) {
      PromptTemplate t;
      t.kind = s.kind;
      t.slot = s.slot;
      t.group = s.group;
      t.topic = s.topic;
      t.text = s.text;
      const std::string prefix = std::string(kind_name(s.kind)) + "-" +
                                 (t.group == kind_name(s.kind) ? "" : t.group + "-");
      t.id = fmt::format("{}{:02d}", prefix, ++counter[prefix]);
      out.push_back(std::move(t));
    }
    return out;
  }();
  return v;
}

const std::vector<std::string>& prompt_openers() {
  static const std::vector<std::string> v = {"",
                                             "",
                                             "",
                                             "Hi.",
                                             "Hello!",
                                             "Hi there.",
                                             "Good morning.",
                                             "Good afternoon.",
                                             "Quick question.",
                                             "Sorry to bother you.",
                                             "Hey there!",
                                             "I hope you can help.",
                                             "Thanks for taking my question.",
                                             "Hello again."};
  return v;
}

}  // namespace cai::world
