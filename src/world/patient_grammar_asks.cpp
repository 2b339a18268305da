// Emergencies (send to 911) and requests about the patient's own account (point to the portal,
// never ask for identifiers). Their frames share openings with the answerable intents ("when is
// my ...", "I need to ...", "my husband has ..."), so the ask must be read, not the start.
#include <string>

#include "lexicon.h"
#include "patient_grammar.h"

namespace cai::world::patient {

namespace {

struct SymptomWords {
  const char* symptom;
  std::vector<Alt> np;      // fits "my husband has ..." / "I think I'm having ..."
  std::vector<Alt> clause;  // a whole clause after "{who}"
};

}  // namespace

void add_care_intents(Grammar& g) {
  // clang-format off
  g.add("emergency.body", {{"{=root}"}});
  g.add("emergency.root", {
      {"{who_has} {sym}{urgency}. {ask}", 6, true}, {"{ask} {who_has} {sym}.", 2},
      {"I need help, {who_has} {sym}."}, {"{who_has} {sym} and I don't know what to do."},
      {"I think I'm having {sym}. {ask}"}, {"I think {who} is having {sym}. {ask}"},
      {"help! {who_has} {sym}."}, {"{who} {sym_clause@}. {ask}", 2},
      {"{who_has} {sym}{urgency}. is that serious?"},
      {"please help, {who_has} {sym}{urgency}."}});
  g.add("emergency.who", {
      {"my husband", 2}, {"my wife", 2}, {"my father"}, {"my dad"}, {"my mom"}, {"my mother"},
      {"my son"}, {"my daughter"}, {"my friend"}, {"my neighbor"}, {"my grandmother"},
      {"my grandpa"}, {"my partner"}, {"my brother"}, {"my sister"}, {"my roommate"},
      {"my coworker"}});
  g.add("emergency.who_has", {
      {"{who} has", 4, true}, {"{who} is having", 2}, {"{who} suddenly has"},
      {"{who} just started having"}, {"{who} seems to have"}, {"I have", 2, true},
      {"I'm having"}, {"I suddenly have"}, {"I think I have"}});
  g.add("emergency.sym", {{"{$e}", 4, true}, {"{sym@}", 2}});
  g.add("emergency.urgency", {
      {"", 4}, {" right now", 2}, {" and it started a few minutes ago"},
      {" since about ten minutes ago"}, {" all of a sudden"}, {" out of nowhere"},
      {" and it's getting worse"}, {" this very minute"}});
  g.add("emergency.ask", {
      {"what should I do?", 3, true}, {"can you help?", 2}, {"what do I do?"}, {"please help."},
      {"should we come in next week?"}, {"can the clinic see us today?"},
      {"is it okay to wait until tomorrow?"}, {"when can we see a doctor?"},
      {"what should I take for it?"}, {"can I book a visit?"}, {"should we wait and see?"},
      {"can I get an appointment this week?"}, {"what should we do?"},
      {"is there anything I can give for it?"}, {"do we need to come in?"},
      {"can you tell me what to do?"}, {"should I just let it rest?"},
      {"can we come in this afternoon?"}});
  const std::vector<SymptomWords> words = {
      {"crushing chest pain",
       {{"a crushing pain in the chest"}, {"crushing pain in the chest"},
        {"a crushing feeling in the chest"}, {"chest pain that feels like crushing pressure"}},
       {{"says it feels like the chest is being crushed"}, {"is clutching at a crushing chest pain"}}},
      {"severe trouble breathing",
       {{"a really hard time breathing"}, {"severe shortness of breath"},
        {"trouble getting any air"}, {"serious trouble breathing"}},
       {{"can barely breathe"}, {"is struggling to breathe at all"}}},
      {"a seizure that will not stop",
       {{"a seizure that won't stop"}, {"a seizure that keeps going"}, {"a fit that won't stop"},
        {"a seizure that has lasted for minutes"}},
       {{"is shaking in a seizure that won't stop"}, {"has been seizing for several minutes"}}},
      {"bleeding that will not stop",
       {{"bleeding that won't stop"}, {"a cut that keeps gushing blood"},
        {"heavy bleeding that we can't stop"}, {"bleeding that keeps going no matter what we do"}},
       {{"is bleeding and it won't stop"}, {"cut a hand badly and the bleeding won't stop"}}},
      {"sudden weakness on one side of the face",
       {{"a face that suddenly droops on one side"}, {"sudden drooping on one side of the face"},
        {"sudden numbness on one side of the face"}, {"one side of the face suddenly gone weak"}},
       {{"suddenly can't move one side of the face"}, {"has a face drooping on one side"}}},
      {"suddenly slurred speech",
       {{"slurred speech that came on suddenly"}, {"speech that suddenly became slurred"},
        {"sudden slurring of words"}, {"suddenly garbled speech"}},
       {{"suddenly can't speak clearly"}, {"started slurring words out of nowhere"}}},
      {"a swollen throat after a bee sting",
       {{"throat swelling after a bee sting"}, {"a throat closing up after a bee sting"},
        {"a swollen tongue and throat after a bee sting"}, {"trouble swallowing after a bee sting"}},
       {{"got stung by a bee and the throat is swelling up"}, {"was stung by a bee and can't swallow"}}},
      {"blue lips and gasping",
       {{"lips turning blue and gasping for air"}, {"blue lips and struggling for breath"},
        {"bluish lips and gasping"}, {"blue lips and gasping for breath"}},
       {{"is gasping and the lips are turning blue"}, {"has gone blue around the lips and is gasping"}}},
      {"a head injury with confusion",
       {{"confusion after a blow to the head"}, {"a bad head injury and confusion"},
        {"a hard knock to the head and confusion"}, {"confusion after hitting the head"}},
       {{"hit the head hard and is now confused"}, {"fell, banged the head and seems confused"}}},
      {"chest pain spreading to the left arm",
       {{"chest pain that goes down the left arm"}, {"chest pain running into the left arm"},
        {"pain in the chest and the left arm"}, {"chest pain moving into the left arm"}},
       {{"has pain spreading from the chest into the left arm"}, {"says the chest pain is going down the left arm"}}},
      {"a fever with a stiff neck and confusion",
       {{"a high fever, a stiff neck and confusion"}, {"a fever, a stiff neck and confusion"},
        {"a stiff neck with a fever and confusion"}, {"a very high fever with a stiff neck and confusion"}},
       {{"is burning up with a stiff neck and seems confused"}, {"has a stiff neck, a fever and is confused"}}},
      {"an overdose of sleeping pills",
       {{"a sleeping pill overdose"}, {"an overdose on sleeping pills"},
        {"a possible overdose of sleeping pills"}, {"an overdose of sleep medication"}},
       {{"took too many sleeping pills"}, {"swallowed a whole bottle of sleeping pills"}}},
  };
  // clang-format on
  for (const auto& w : words) {
    g.add(std::string("sym@") + w.symptom, w.np);
    g.add(std::string("sym_clause@") + w.symptom, w.clause);
  }
}

void add_account_intents(Grammar& g) {
  // clang-format off
  g.add("results.root", {
      {"can you check whether my {$e} results are ready?", 2, true},
      {"are my {$e} results in yet?", 2}, {"can you send me the report from my {$e}?"},
      {"what did my {$e} show?"}, {"can you look up my {$e} results?", 2},
      {"{relf} had {the} {past}. can you look up her results?"},
      {"{relm} had {the} {past}. can you look up his results?"},
      {"have my {$e} results come back?"}, {"did my {$e} results come in?"},
      {"can you tell me my {$e} results?"}, {"I'm waiting on my {$e} results. are they ready?"},
      {"{=ind}", 4}});
  g.add("results.iq", {
      {"whether my {$e} results are ready", 2, true}, {"if my {$e} results are back"},
      {"what my {$e} showed"}, {"if you can look up my {$e} results"}});
  g.add("relf", {{"my wife"}, {"my mother"}, {"my daughter"}, {"my sister"}});
  g.add("relm", {{"my husband"}, {"my son"}, {"my father"}, {"my brother"}});
  g.add("past", {{"on Monday"}, {"last week"}, {"yesterday"}, {"a few days ago"}});

  g.add("reschedule.root", {
      {"I need to move my {$e} appointment to {later}.", 2, true},
      {"can you reschedule my {$e}?", 2}, {"can I change the date of my {$e}?"},
      {"{relm} missed his {$e}. can you reschedule it?"}, {"please move my {$e} to {later}."},
      {"I can't make my {$e} {soon}. can we move it?"}, {"could you push my {$e} back a week?"},
      {"is it possible to reschedule my {$e} appointment?"}, {"{=ind}", 4}});
  g.add("reschedule.iq", {
      {"if you can reschedule my {$e}", 2, true}, {"how I can move my {$e} appointment"},
      {"whether my {$e} can be moved to {later}"}});
  g.add("later", {
      {"next week", 2, true}, {"another day"}, {"Friday"}, {"later this month"}, {"next Monday"}});

  g.add("billing.root", {
      {"can you tell me if my bill for {the} was paid?", 2, true},
      {"did my payment for {the} go through?", 2},
      {"I think I was charged twice for my {$e}. can you check?"},
      {"how much do I still owe for my {$e}?"}, {"can you check my balance for {the}?"},
      {"was my {$e} bill sent to my insurance?"}, {"why is there a charge for my {$e} on my bill?"},
      {"has my {$e} bill been paid?"}, {"{=ind}", 4}});
  g.add("billing.iq", {
      {"if my bill for {the} was paid", 2, true}, {"whether my payment for {the} went through"},
      {"what I still owe for my {$e}"}});

  g.add("order.root", {
      {"did my doctor order {the} for me?", 2, true}, {"has {a} been ordered for me?"},
      {"can you check if I have a referral for {the}?"}, {"is there an order on file for my {$e}?"},
      {"did my doctor put in the order for my {$e}?"}, {"has my referral for {the} come through?"},
      {"{=ind}", 4}});
  g.add("order.iq", {
      {"if my doctor ordered {the} for me", 2, true}, {"whether {a} has been ordered for me"},
      {"if I have a referral for {the}"}});

  g.add("cancel.root", {
      {"please cancel my {$e} appointment.", 2, true}, {"I need to cancel my {$e}.", 2},
      {"can you cancel {the} I booked?"}, {"I can't make my {$e} {soon}, please cancel it."},
      {"cancel my {$e}, please."}, {"can I cancel my {$e} appointment?"},
      {"I'd like to cancel my {$e} for {day}."}, {"{=ind}", 3}});
  g.add("cancel.iq", {
      {"if you can cancel my {$e} appointment", 2, true}, {"how I cancel my {$e}"},
      {"whether I can cancel my {$e} for {day}"}});

  g.add("history.root", {
      {"did I already have {the} this year?", 2, true}, {"when was my last {$e}?", 2},
      {"I lost the paperwork from my {$e}. can you find it?"},
      {"how many times have I had {the}?"}, {"can you check if {relm} got his {$e} already?"},
      {"have I had {a} before?"}, {"is my last {$e} on my record?"}, {"{=ind}", 3}});
  g.add("history.iq", {
      {"whether I already had {the} this year", 2, true}, {"when my last {$e} was"},
      {"if I've had {a} before"}});

  g.add("booking.root", {
      {"could you book me in for {the}?", 2, true}, {"is my {$e} still on the calendar for {day}?"},
      {"can you confirm my {$e} appointment time?", 2}, {"what time is my {$e} appointment?"},
      {"can you sign me up for {the}?"}, {"please book {a} for me on {day}."},
      {"am I booked for {the} {soon}?"}, {"can you make an appointment for my {$e}?"},
      {"do I have {a} scheduled?"}, {"{=ind}", 3}});
  g.add("booking.iq", {
      {"if you can book me in for {the}", 2, true}, {"whether my {$e} is still on the calendar"},
      {"what time my {$e} appointment is"}, {"if I'm booked for {the} {soon}"}});

  g.add("contact.root", {
      {"can you update my phone number for {the} reminders?", 2, true},
      {"I changed my email. can you update it for my {$e} reminders?"},
      {"please send my {$e} reminders to my new address."},
      {"can you change my contact details for {the}?"},
      {"I got a new phone. can you update it for my {$e} reminders?"},
      {"can you text my {$e} reminders to a different number?"}, {"{=ind}", 2}});
  g.add("contact.iq", {
      {"if you can update my phone number for {the} reminders", 2, true},
      {"how to change my contact details for {the}"},
      {"whether my {$e} reminders can go to a new number"}});
  // clang-format on
}

}  // namespace cai::world::patient
