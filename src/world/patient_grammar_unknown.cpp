// The questions the knowledge base cannot answer (say "I don't know", never guess): what a
// service costs, how long one waits or it takes, what it will show, who does it, whether it is
// covered or hurts, side effects, doses, when results come, recovery, safety, age. Many open
// like answerable questions ("how long ...", "when ...", "is the ... available"), so the model
// must tell "when is it offered?" from "when do results come back?".
#include "patient_grammar.h"

namespace cai::world::patient {

void add_unknown_intents(Grammar& g) {
  // clang-format off
  g.add("cost.root", {
      {"how much does {the} cost?", 3, true}, {"what's the price of {the}?", 2},
      {"what is the price of {the}?"}, {"how much is {a}?", 2}, {"how much do you charge for {a}?", 2},
      {"what does {a} cost{pay_ctx}?"}, {"is {the} expensive?"}, {"what's the fee for {the}?"},
      {"how much will I pay for {my}?"}, {"can you tell me the price of {the}?"},
      {"how much should I budget for {the}?"}, {"what will {my} cost me?"},
      {"is there a charge for {the}?"}, {"price of {the}?"}, {"{=ind}", 5},
      {"{need} {a}. {=follow}", 2}});
  g.add("cost.iq", {
      {"how much {the} costs", 3, true}, {"what the price of {the} is"}, {"what you charge for {a}"},
      {"how much I'll pay for {my}"}, {"what {a} costs{pay_ctx}"}, {"if {the} is expensive"},
      {"what the fee is for {the}"}});
  g.add("cost.follow", {
      {"how much will it cost?", 2, true}, {"what's the price?"}, {"how much is it?"},
      {"what will I have to pay?"}, {"is it expensive?"}});
  g.add("pay_ctx", {{"", 3}, {" without insurance"}, {" out of pocket"}, {" for self-pay patients"}});

  g.add("wait.root", {
      {"how long is the wait for {the} today?", 2, true}, {"is there a line for {pl} right now?", 2},
      {"how busy is it for {pl} today?"}, {"how long will I have to wait for {my} {now}?", 2},
      {"is the wait long for {pl} today?"}, {"if I come in now for {a}, how long will I wait?"},
      {"what's the wait time for {the} {now}?", 2}, {"how many people are waiting for {pl} {now}?"},
      {"is it busy for {pl} {now}?"}, {"are there long lines for {pl} {now}?"},
      {"{=ind}", 5}, {"{need} {a} {now}. {=follow}", 2}});
  g.add("wait.iq", {
      {"how long the wait is for {the} {now}", 3, true}, {"if there is a line for {pl} right now"},
      {"how busy it is for {pl} {now}"}, {"how long I'll have to wait for {my} {now}"},
      {"what the wait time is for {the} {now}"}});
  g.add("wait.follow", {
      {"how long is the wait?", 2, true}, {"is there a line?"}, {"how long will I be waiting?"},
      {"is it busy right now?"}, {"will I have to wait long?"}});
  g.add("now", {{"today", 2, true}, {"this afternoon"}, {"right now"}, {"this morning"}});

  g.add("outcome.root", {
      {"will my {$e} results come back normal?", 2, true}, {"will {my} show anything bad?", 2},
      {"do you think my {$e} will be okay?"}, {"is my {$e} going to find something wrong?"},
      {"will my {$e} results be good?"}, {"what will my {$e} show?"},
      {"my {$e} is {soon}. will it show anything bad?", 2}, {"am I going to pass my {$e}?"},
      {"will {my} find anything serious?"}, {"could my {$e} results be abnormal?"},
      {"{=ind}", 4}});
  g.add("outcome.iq", {
      {"whether my {$e} results will come back normal", 2, true},
      {"if my {$e} will show anything bad"}, {"what my {$e} will show"},
      {"if my {$e} results will be okay"}, {"whether {my} will find anything wrong"}});

  g.add("doctor.root", {
      {"which doctor will do my {$e}?", 2, true}, {"who will {perform} {my}?", 2},
      {"is a woman doctor available for {the}?"}, {"can I choose my doctor for {the}?"},
      {"which nurse does {pl}?"}, {"who is the doctor for {pl}?"},
      {"will a specialist do my {$e}?"}, {"can I see the same doctor for my {$e}?"},
      {"what's the name of the doctor doing {pl}?"}, {"is it a doctor or a nurse who does {the}?"},
      {"{=ind}", 4}});
  g.add("doctor.iq", {
      {"which doctor will do my {$e}", 2, true}, {"who will {perform} {my}"},
      {"if a woman doctor is available for {the}"}, {"who does {pl} at the clinic"},
      {"whether I can choose my doctor for {the}"}});
  g.add("perform", {{"do", 2, true}, {"perform"}, {"handle"}, {"run"}, {"be doing"}});

  g.add("coverage.root", {
      {"does my insurance {cover} {the}?", 3, true}, {"does my insurance plan {cover} {the}?"},
      {"is {the} covered by {insurer}?", 2}, {"is {the} free for {group}?"},
      {"will my plan {cover} {the}?"}, {"do I have to pay for {the} or is it covered?"},
      {"is {the} free?"}, {"will insurance cover {my}?"}, {"does {insurer} pay for {pl}?"},
      {"is {the} covered?"}, {"{=ind}", 4}});
  g.add("coverage.iq", {
      {"whether my insurance covers {the}", 2, true}, {"if {the} is covered by {insurer}"},
      {"if {the} is free for {group}"}, {"whether {insurer} pays for {pl}"}});
  g.add("cover", {{"cover", 2, true}, {"pay for", 2, true}});
  g.add("insurer", {
      {"my insurance", 2, true}, {"my plan"}, {"Medicare"}, {"Medicaid"}, {"my employer's plan"}});
  g.add("group", {{"seniors", 2, true}, {"kids"}, {"students"}, {"veterans"}});

  g.add("duration.root", {
      {"how long does {the} take?", 3, true}, {"how many minutes should I plan for {the}?"},
      {"how long will {my} last?", 2}, {"is {the} quick?"}, {"how much time does {the} take?"},
      {"will {the} take long?"}, {"how much time should I set aside for {my}?"},
      {"how long will I be there for {my}?"}, {"does {the} take more than an hour?"},
      {"{=ind}", 4}, {"{need} {a}. {=follow}", 2}});
  g.add("duration.iq", {
      {"how long {the} takes", 2, true}, {"how much time to set aside for {my}"},
      {"how long {my} will last"}, {"if {the} takes long"}});
  g.add("duration.follow", {
      {"how long does it take?", 2, true}, {"how long will it last?"},
      {"how much time should I plan?"}, {"will it take long?"}});

  g.add("pain.root", {
      {"will {the} hurt?", 3, true}, {"is {the} painful{for_who}?", 2}, {"does {the} hurt much?"},
      {"how much will {the} hurt?"}, {"is {the} uncomfortable?"},
      {"I'm scared of needles. will {the} hurt?"}, {"will I feel any pain during {my}?"},
      {"does {a} sting?"}, {"is {the} going to be painful?"}, {"{=ind}", 4},
      {"{need} {a}. {=follow}"}});
  g.add("pain.iq", {
      {"whether {the} hurts", 2, true}, {"if {the} is painful"}, {"how much {the} will hurt"},
      {"if I'll feel any pain during {my}"}});
  g.add("pain.follow", {{"will it hurt?", 2, true}, {"is it painful?"}, {"does it hurt much?"}});
  g.add("for_who", {{"", 3}, {" for kids"}, {" for children"}, {" for older people"}});

  // Further things the clinic's documents do not say.
  g.add("side_effects.root", {
      {"are there any side effects from {the}?", 3, true}, {"will I feel sick after {the}?", 2},
      {"what side effects does {the} have?"}, {"can {the} make me feel unwell afterwards?"},
      {"is it normal to feel tired after {the}?"}, {"could I react badly to {the}?"},
      {"{=ind}", 4}, {"{have} {my} {soon}. {=follow}", 2}});
  g.add("side_effects.iq", {
      {"if there are any side effects from {the}", 2, true}, {"whether I'll feel sick after {the}"},
      {"what side effects {the} has"}});
  g.add("side_effects.follow", {
      {"are there any side effects?", 2, true}, {"will I feel sick afterwards?"},
      {"what side effects should I expect?"}});

  g.add("dosage.root", {
      {"how much ibuprofen can I take before {my}?", 2, true},
      {"what dose of painkiller should I take after {my}?", 2},
      {"how many pills should {rel} take before {the}?"},
      {"should I double my medicine before {my}?"},
      {"how much medicine is safe to take on the day of {my}?"},
      {"can I take my usual pain pills before {the}, and how many?"},
      {"what's the right amount of tylenol to take after {my}?"}, {"{=ind}", 3}});
  g.add("dosage.iq", {
      {"how much ibuprofen I can take before {my}", 2, true},
      {"what dose of painkiller to take after {my}"},
      {"whether I should double my medicine before {my}"}});

  g.add("results_time.root", {
      {"how long until the results of {the} come back?", 3, true},
      {"how soon will I get results from {my}?", 2}, {"when do results from {pl} usually arrive?"},
      {"how many days does it take to get {$e} results?"},
      {"will I get my {$e} results the same day?"},
      {"how many days until {$e} results are ready?"}, {"how long do I wait for the results after {the}?"},
      {"{=ind}", 3}});
  g.add("results_time.iq", {
      {"how long until the results of {the} come back", 2, true},
      {"how soon I'll get results from {my}"}, {"whether {$e} results come the same day"}});

  g.add("recovery.root", {
      {"can I drive home after {the}?", 2, true}, {"how long will I be sore after {the}?", 2},
      {"can I go back to work right after {my}?"}, {"can I exercise the day after {my}?"},
      {"how long does it take to recover from {the}?"}, {"will I need someone to take me home after {my}?"},
      {"{=ind}", 3}});
  g.add("recovery.iq", {
      {"if I can drive home after {the}", 2, true}, {"how long I'll be sore after {the}"},
      {"whether I can go back to work right after {my}"}});

  g.add("safety.root", {
      {"is {the} safe during pregnancy?", 2, true}, {"is {the} safe for someone with a heart condition?"},
      {"is it safe to have {the} while I'm on blood thinners?"}, {"is {the} safe for a toddler?"},
      {"can I have {the} if I'm breastfeeding?"}, {"is {the} risky at my age?"}, {"{=ind}", 3}});
  g.add("safety.iq", {
      {"if {the} is safe during pregnancy", 2, true}, {"whether {the} is safe while breastfeeding"},
      {"if {the} is risky at my age"}});

  g.add("age.root", {
      {"is there a minimum age for {the}?", 2, true}, {"how old do you have to be for {the}?", 2},
      {"is {rel} too old for {the}?"}, {"can a baby have {the}?"}, {"at what age should kids get {pl}?"},
      {"what's the age limit for {the}?"}, {"is {the} only for adults?"}, {"{=ind}", 3}});
  g.add("age.iq", {
      {"if there is a minimum age for {the}", 2, true}, {"how old you have to be for {the}"},
      {"at what age kids should get {pl}"}});
  // clang-format on
}

}  // namespace cai::world::patient
