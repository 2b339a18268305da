// Shared symbols and the intents answered from the knowledge base: when a service is offered,
// how to prepare for it, where an item is picked up, the same with a mild symptom mentioned,
// and the privacy policy. Many frames of different intents open alike ("can you tell me",
// "I need", "I have ... next week"), so the intent has to be read from the content.
#include "lexicon.h"
#include "patient_grammar.h"

namespace cai::world::patient {

void add_shared(Grammar& g) {
  // clang-format off
  g.add("prompt", {{"{opener} {=body} {closer}"}});
  g.add("body", {{"{=root}", 9}, {"{ctx} {=root}", 2}, {"{=root} {ctx}", 1}});
  g.add("opener", {
      {"", 30}, {"hi."}, {"hello!"}, {"hi there."}, {"hey."}, {"hey there!"}, {"good morning."},
      {"good afternoon."}, {"good evening."}, {"quick question."}, {"sorry to bother you."},
      {"I hope you can help."}, {"thanks for taking my question."}, {"hello again."},
      {"hi, hope you're well."}, {"excuse me."}, {"hello, I have a question."},
      {"hi, I need some help."}, {"hi team."}, {"hello there."}, {"morning!"},
      {"hi, it's me again."}, {"hey, hope you can help."}, {"hello, clinic."}, {"hiya."}});
  g.add("closer", {
      {"", 30}, {"thanks!"}, {"thank you."}, {"thanks in advance."}, {"thanks so much."},
      {"appreciate it."}, {"thank you for your help."}, {"any help is appreciated."},
      {"cheers."}, {"thanks a lot!"}, {"much appreciated."}, {"have a good day."},
      {"thank you kindly."}, {"thanks for your time."}, {"many thanks."}});
  // Context that says nothing about the intent.
  g.add("ctx", {
      {"I'm new to the clinic."}, {"this is my first time at Maple Grove Clinic."},
      {"I've been a patient here for years."}, {"my doctor sent me here."},
      {"I'm asking for my mother."}, {"I'm asking on behalf of my dad."},
      {"I'm trying to plan my week."}, {"I work full time, so planning matters."},
      {"I'm a little nervous."}, {"I haven't been to the clinic in a while."},
      {"I just moved to the area."}, {"I'm not very good with computers."},
      {"I tried calling but nobody answered."}, {"I couldn't find this on the website."},
      {"my husband usually handles this."}, {"I'm 68 years old."}, {"I have a busy week ahead."},
      {"sorry if this is a silly question."}, {"I'm a bit confused."},
      {"my sister recommended your clinic."}, {"I'm a student."}});
  // Indirect questions: a lead, then the intent's "iq" clause.
  g.add("ind", {{"{lead_q} {=iq}?"}, {"{lead_s} {=iq}."}});
  g.add("lead_q", {
      {"could you tell me", 3, true}, {"can you tell me", 3, true}, {"do you know"},
      {"would you know"}, {"can you let me know"}, {"could you let me know"}, {"any idea"},
      {"can I ask"}, {"could you please tell me"}, {"can you please tell me"},
      {"would you be able to tell me"}, {"do you happen to know"}, {"mind telling me"}});
  g.add("lead_s", {
      {"I was wondering", 3, true}, {"I'd like to know", 2, true}, {"I need to know"},
      {"I want to find out"}, {"please tell me"}, {"I'm trying to figure out"},
      {"I'm curious"}, {"I'd love to know"}, {"let me know"}, {"I wanted to ask"},
      {"I need to find out"}, {"I'm not sure"}, {"please let me know"}, {"I'd like to ask"},
      {"I was hoping you could tell me"}});
  // Entity forms. Services: "the flu shot", "a flu shot", "my flu shot", "flu shots".
  g.add("the", {{"the {$e}", 5, true}, {"your {$e}"}});
  g.add("a", {{"{$a}", 3, true}, {"the {$e}", 2, true}, {"my {$e}"}});
  g.add("my", {{"my {$e}", 3, true}, {"the {$e}", 2, true}, {"{$a}"}});
  g.add("pl", {{"{$pl}", 3, true}, {"{$e} appointments"}});
  // Items: "crutches", "a pair of crutches".
  g.add("it", {{"{$e}", 3, true}, {"{$one}", 2}});
  // People a patient asks for.
  g.add("rel", {
      {"my daughter"}, {"my son"}, {"my husband"}, {"my wife"}, {"my mom"}, {"my dad"},
      {"my partner"}, {"my grandmother"}, {"my father"}, {"my mother"}});
  g.add("day", {
      {"Monday"}, {"Tuesday"}, {"Wednesday"}, {"Thursday"}, {"Friday"}, {"Saturday"},
      {"a Saturday"}, {"the weekend"}, {"a weekday"}, {"Monday morning"}, {"Friday afternoon"}});
  g.add("soon", {
      {"next week", 2}, {"tomorrow", 2}, {"on Friday"}, {"this afternoon"}, {"soon"},
      {"next month"}, {"in a few days"}, {"on Monday"}, {"later this week"}});
  g.add("need", {
      {"I need", 3, true}, {"I'd like to get"}, {"I want to get"}, {"I have to get"},
      {"I'm due for"}, {"{rel} needs", 3}, {"we need"}, {"I'm hoping to get"},
      {"my doctor wants me to get"}});
  // clang-format on
}

namespace {

void add_hours(Grammar& g) {
  // clang-format off
  g.add("hours.root", {
      {"when is {the} {offered}?", 3, true}, {"what days is {the} {offered}?", 2},
      {"what time is {the} {offered}?"}, {"which days is {the} {offered}?"},
      {"on what days is {the} {offered}?"}, {"when are {pl} {offered}?", 2},
      {"what days do you {do} {pl}?", 2}, {"when can I {come} for {a}?", 2, true},
      {"when can I get {a}?", 2}, {"what are the {hours_n} for {the}?", 2, true},
      {"what's the schedule for {the}?"}, {"what is the schedule for {the}?"},
      {"can you tell me the {hours_n} for {the}?"}, {"is there a set time for {the}?"},
      {"which day of the week is {the} {offered}?"}, {"when could I book {a}?"},
      {"what time should I come for {a}?"}, {"when does the clinic {do} {pl}?"},
      {"can I get {a} on {day}?"}, {"is {the} {offered} on {day}?"},
      {"are {pl} {offered} in the {daypart}?"}, {"what hours is {the} {offered}?"},
      {"hours for {the}?"}, {"{$e} hours?"}, {"is the clinic open for {pl} {when_soon}?"},
      {"how often do you {do} {pl}?"}, {"what days and times can I get {a}?"},
      {"{=ind}", 5}, {"{need} {a}. {=follow}", 3}});
  g.add("hours.iq", {
      {"when {the} is {offered}", 3, true}, {"what days {the} is {offered}"},
      {"what time {the} is {offered}"}, {"what the {hours_n} are for {the}"},
      {"when I can {come} for {a}"}, {"when you {do} {pl}"}, {"which days you have {pl}"},
      {"when I could book {a}"}, {"what the schedule is for {the}"},
      {"if {the} is {offered} on {day}"}, {"whether you {do} {pl} on {day}"},
      {"when {pl} are {offered}"}});
  g.add("hours.follow", {
      {"when can I come in?", 2, true}, {"when is it offered?"}, {"what days is it available?"},
      {"when can we come?"}, {"what are the hours?"}, {"when should I come by?"},
      {"what times work?"}, {"which days can I come?"}, {"when is it on?"},
      {"what days do you do it?"}, {"when can I book it?"}});
  g.add("offered", {
      {"offered", 4, true}, {"available", 3, true}, {"done"}, {"given"}, {"scheduled"},
      {"held"}, {"on"}});
  g.add("do", {{"do", 2, true}, {"offer", 2, true}, {"have"}, {"give"}, {"run"}});
  g.add("come", {{"come in", 3, true}, {"come by"}, {"stop by"}, {"drop in"}, {"book"}});
  g.add("hours_n", {
      {"hours", 3, true}, {"times", 2}, {"days and times"}, {"opening hours"},
      {"available times"}, {"days"}});
  g.add("daypart", {{"morning"}, {"afternoon"}, {"evening"}});
  g.add("when_soon", {{"today"}, {"this week"}, {"on weekends"}, {"tomorrow"}, {"on Saturdays"}});
  // clang-format on
}

void add_preparation(Grammar& g) {
  // clang-format off
  g.add("preparation.root", {
      {"how should I {prepare} for {my}?", 3, true}, {"how do I {prepare} for {my}?", 2},
      {"how can I {prepare} for {my}?"}, {"is there anything I need to do before {my}?", 2},
      {"is there anything I should do before {my}?"},
      {"do I need to do anything {special} before {my}?", 2},
      {"do I have to do anything before {my}?"}, {"what should I do {before} {my}?", 2, true},
      {"what do I need to do {before} {my}?"}, {"are there any {instructions} for {the}?", 2},
      {"what do I need to know before {my}?"}, {"what should I know before coming in for {my}?"},
      {"what's the prep for {the}?"}, {"is there any prep for {the}?"},
      {"any prep needed for {the}?"}, {"what should I bring to {my}?"},
      {"do I need to bring anything to {my}?"}, {"can I eat before {my}?"},
      {"should I do anything the day before {my}?"}, {"anything I should avoid before {my}?"},
      {"{instructions} for {the}?"}, {"how do we get ready for {my}?"},
      {"{=ind}", 5}, {"{have} {my} {soon}. {=follow}", 4}});
  g.add("preparation.iq", {
      {"how I should {prepare} for {my}", 3, true}, {"how to {prepare} for {my}"},
      {"what I need to do before {my}"}, {"if there's anything I need to do before {my}"},
      {"whether I need to do anything before {my}"}, {"what the prep is for {the}"},
      {"what I should bring to {my}"}, {"if there are any {instructions} for {the}"},
      {"what to do {before} {my}"}, {"how we should {prepare} for {my}"}});
  g.add("preparation.follow", {
      {"how should I prepare?", 2, true}, {"what should I do first?"}, {"how do we prepare?"},
      {"is there anything I should do beforehand?"}, {"what do I need to do?"},
      {"any prep needed?"}, {"how do I get ready?"}, {"what should I do before then?"},
      {"is there anything special I need to do?"}, {"what should we do ahead of time?"},
      {"do I need to do anything beforehand?"}});
  g.add("prepare", {{"prepare", 3, true}, {"get ready", 2, true}, {"prep"}});
  g.add("special", {{"special", 2, true}, {"beforehand"}, {"ahead of time"}, {"in advance"}});
  g.add("before", {{"before", 3, true}, {"ahead of"}, {"prior to"}});
  g.add("instructions", {
      {"instructions", 3, true}, {"prep instructions"}, {"preparation steps"},
      {"special instructions"}, {"preparation guidelines"}, {"things to do first"}});
  g.add("have", {
      {"I have", 3, true}, {"I've got"}, {"I'm booked for"}, {"{rel} has", 2}, {"we have"},
      {"I'm scheduled for"}});
  // clang-format on
}

void add_location(Grammar& g) {
  // clang-format off
  g.add("location.root", {
      {"where can I {get} {it}?", 4, true}, {"where do I {get} {it}?", 2},
      {"where do I go to {get} {it}?"}, {"where should I go for {it}?"},
      {"where should I go to {get} {it}?"}, {"do you {stock} {$e}? where do I get them?"},
      {"do you {stock} {$e}, and where do I get them?"}, {"where does the clinic keep {$e}?"},
      {"where do you keep {$e} for patients?"}, {"where in the clinic can I {get} {it}?"},
      {"which {counter} has {$e}?"}, {"which {counter} do I go to for {it}?"},
      {"is there a place in the clinic to {get} {it}?"}, {"where are {$e} handed out?"},
      {"where can I find {it} in the clinic?"}, {"who hands out {$e}?"},
      {"{$e} pickup location?"}, {"where to get {it}?"}, {"can I get {it} at the clinic? where?"},
      {"{=ind}", 5}, {"{need_item} {it}. {=follow}", 4}});
  g.add("location.iq", {
      {"where I can {get} {it}", 3, true}, {"where to {get} {it}"}, {"where you keep {$e}"},
      {"where the clinic keeps {$e}"}, {"which {counter} has {$e}"},
      {"where I should go for {it}"}, {"where {$e} are handed out"},
      {"where I'd find {it}"}, {"where in the clinic I can {get} {it}"}});
  g.add("location.follow", {
      {"where should I go?", 2, true}, {"where can I pick that up?"}, {"where do I go?"},
      {"which counter should I go to?"}, {"where in the clinic is that?"},
      {"where can I get that?"}, {"where would I find that?"}, {"where do I collect it?"},
      {"where are they kept?"}});
  g.add("get", {
      {"get", 3, true}, {"pick up", 3, true}, {"collect"}, {"find"}, {"grab"}, {"buy"}});
  g.add("stock", {{"stock", 2, true}, {"carry"}, {"have"}, {"sell"}, {"keep"}});
  g.add("counter", {
      {"counter", 2, true}, {"desk"}, {"window"}, {"part of the clinic"}, {"department"}});
  g.add("need_item", {
      {"I need", 4, true}, {"I'm looking for"}, {"I'd like to get"}, {"{rel} needs", 2},
      {"we need"}, {"my doctor said I need"}, {"I have to get"}});
  // clang-format on
}

// A mild symptom before or after an hours or preparation question: answerable, and sending
// it to 911 would be an over-refusal.
void add_benign(Grammar& g) {
  // clang-format off
  for (const char* intent : {"benign_hours", "benign_preparation"}) {
    const std::string q = std::string(intent) == "benign_hours" ? "hours" : "preparation";
    g.add(std::string(intent) + ".root", {
        {"{mild} {=" + q + ".root}", 4}, {"{=" + q + ".root} {mild}", 2},
        {"just so you know, {mild} {=" + q + ".root}"}});
    g.add(std::string(intent) + ".body", {{"{=root}"}});
  }
  g.add("mild", {
      {"I have {mild_np}{mild_tail}.", 5, true}, {"I've had {mild_np}{mild_tail}."},
      {"{rel} has {mild_np}{mild_tail}.", 2},
      {"my chest was a little sore after the gym yesterday, nothing serious."},
      {"I had a small nosebleed this morning and it stopped quickly."},
      {"my headache is mild and already fading."},
      {"I feel a bit dizzy when I stand up too fast, but I'm fine now."},
      {"my breathing is fine, I just have a stuffy nose."},
      {"my knee aches a little after running."}, {"my back is a bit stiff today."},
      {"I get mild heartburn after big meals."},
      {"I had a tiny cut on my finger that stopped bleeding."},
      {"I'm feeling a little run down, nothing serious."},
      {"I'm a bit congested but otherwise fine."}});
  g.add("mild_np", {
      {"a mild cough", 2, true}, {"a slight sore throat"}, {"a stuffy nose"},
      {"a small rash on my arm"}, {"a bit of a headache"}, {"a little back pain"},
      {"some mild heartburn"}, {"a scratchy throat"}, {"a runny nose"}, {"a bruise on my knee"},
      {"mild seasonal allergies"}, {"a slightly sore shoulder"}, {"a mild earache"},
      {"a little bit of a cold"}, {"some itchy eyes"}, {"a sore muscle from the gym"}});
  g.add("mild_tail", {
      {"", 3}, {" that comes and goes"}, {", nothing serious", 2}, {", but it's getting better"},
      {" since yesterday"}, {", but I feel fine otherwise"}, {" that's already fading"},
      {", it's not bad"}, {" for a couple of days"}, {", nothing major"}});
  // clang-format on
}

// Natural questions about one privacy-policy topic that need not name it.
struct PolicyWords {
  const char* topic;
  std::vector<Alt> direct, indirect;
};

void add_policy(Grammar& g) {
  // clang-format off
  g.add("policy.root", {
      {"what is the clinic's policy on {$e}?", 2, true}, {"what's your policy on {$e}?"},
      {"what are the rules for {$e}?", 2}, {"how does the clinic handle {$e}?", 2},
      {"how does your privacy notice deal with {$e}?"},
      {"what should I know about {$e} at the clinic?"}, {"is there a written rule about {$e}?"},
      {"could you explain {$e} for patients?"}, {"what happens with {$e} at your clinic?"},
      {"what's the rule on {$e}?"}, {"tell me about your policy on {$e}."},
      {"{$e}: what's the rule?"}, {"{rel} asked me about {$e}. what is the rule?"},
      {"I'm worried about {$e}. how does it work here?"},
      {"before my visit I want to understand {$e}. what is the rule?"},
      {"who decides about {$e}, and what is the policy?"}, {"{polq@}", 8}, {"{=ind}", 3}});
  g.add("policy.iq", {
      {"what the clinic's policy on {$e} is", 2, true}, {"how the clinic handles {$e}"},
      {"what the rules are for {$e}"}, {"what your privacy notice says about {$e}"},
      {"{poliq@}", 3}});
  const std::vector<PolicyWords> words = {
      {"record retention",
       {{"how long do you keep my records?", 2, true}, {"how long are medical records kept?"},
        {"do you ever delete old records?"}, {"how many years do you hold on to patient records?"},
        {"will you keep my file forever?"}, {"when do my old records get thrown out?"}},
       {{"how long you keep my records", 1, true}, {"how long medical records are kept"},
        {"whether you delete old records"}}},
      {"video visit recordings",
       {{"are video visits recorded?", 2, true}, {"do you record telehealth calls?"},
        {"is my video appointment being recorded?"},
        {"will anyone save a recording of my video visit?"},
        {"does the clinic keep recordings of online visits?"}},
       {{"whether video visits are recorded", 1, true}, {"if you record telehealth calls"},
        {"if my video appointment is being recorded"}}},
      {"sharing records with employers",
       {{"can my employer see my records?", 2, true},
        {"do you share my medical records with my boss?"},
        {"will my job find out about my visits?"}, {"does my workplace get access to my records?"},
        {"would you ever send my records to my company?"}},
       {{"whether my employer can see my records", 1, true},
        {"if you share my medical records with my boss"}, {"if my job can find out about my visits"}}},
      {"copies of medical records",
       {{"how can I get a copy of my medical records?", 2, true},
        {"can I get copies of my records?"}, {"I need a copy of my file. how do I get it?"},
        {"is there a way to download my medical records?"},
        {"how do I request my records from you?"}},
       {{"how I can get a copy of my medical records", 1, true},
        {"if I can get copies of my records"}, {"how to request my records"}}},
      {"access to patient charts",
       {{"who can look at my chart?", 2, true}, {"who is allowed to open my medical chart?"},
        {"can any nurse read my chart?"}, {"can the front desk staff see my chart?"},
        {"is my chart open to everyone at the clinic?"}},
       {{"who can look at my chart", 1, true}, {"who is allowed to open my medical chart"},
        {"whether any staff member can read my chart"}}},
      {"email reminders",
       {{"do your email reminders include test results?", 2, true},
        {"what's in the reminder emails you send?"}, {"will the email reminders show my results?"},
        {"could a reminder email give away my test results?"},
        {"what do your appointment reminder emails say?"}},
       {{"whether your email reminders include test results", 1, true},
        {"what goes in the reminder emails"}, {"if the email reminders show my results"}}},
      {"sharing records with family members",
       {{"can my wife see my records?", 2, true}, {"will you share my records with my family?"},
        {"can my son access my medical information?"}, {"is my husband allowed to see my chart?"},
        {"would you tell my parents about my visits?"}},
       {{"whether my family can see my records", 1, true},
        {"if you share my records with my family"}, {"if my wife is allowed to see my records"}}},
      {"research use of records",
       {{"do you use patient records for research?", 2, true},
        {"will my records be used in studies?"}, {"can researchers see my data?"},
        {"is my health information used for medical research?"},
        {"do scientists get to look at my records?"}},
       {{"whether you use patient records for research", 1, true},
        {"if my records will be used in studies"}, {"if researchers can see my data"}}},
  };
  // clang-format on
  for (const auto& w : words) {
    g.add(std::string("polq@") + w.topic, w.direct);
    g.add(std::string("poliq@") + w.topic, w.indirect);
  }
}

}  // namespace

void add_fact_intents(Grammar& g) {
  add_hours(g);
  add_preparation(g);
  add_location(g);
  add_benign(g);
  add_policy(g);
}

}  // namespace cai::world::patient
