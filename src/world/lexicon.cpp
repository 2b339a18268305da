#include "lexicon.h"

namespace cai::world::lexicon {

const std::vector<std::string>& services() {
  static const std::vector<std::string> v = {"flu shot",
                                             "blood draw",
                                             "allergy test",
                                             "hearing test",
                                             "eye exam",
                                             "tetanus booster",
                                             "cholesterol screening",
                                             "skin check",
                                             "diabetes class",
                                             "prenatal checkup",
                                             "nutrition consult",
                                             "travel vaccine",
                                             "wrist x-ray",
                                             "knee ultrasound",
                                             "sleep consult",
                                             "asthma review",
                                             "well-child visit",
                                             "blood pressure check",
                                             "stitch removal",
                                             "ear cleaning",
                                             "strep test",
                                             "wart treatment",
                                             "foot care visit",
                                             "physical therapy session"};
  return v;
}

const std::vector<std::string>& items() {
  static const std::vector<std::string> v = {
      "crutches",   "knee braces",       "ear thermometers",    "wrist splints",
      "ice packs",  "nebulizer masks",   "glucose test strips", "compression socks",
      "eye drops",  "saline nose spray", "elastic bandages",    "pill organizers",
      "arm slings", "heating pads",      "walking canes",       "reading glasses"};
  return v;
}

const std::vector<std::string>& hour_days() {
  static const std::vector<std::string> v = {"Mondays", "Tuesdays",  "Wednesdays", "Thursdays",
                                             "Fridays", "Saturdays", "weekdays"};
  return v;
}

const std::vector<std::string>& hour_times() {
  static const std::vector<std::string> v = {"8 am to noon", "9 am to 1 pm", "10 am to 2 pm",
                                             "1 pm to 5 pm", "3 pm to 7 pm"};
  return v;
}

const std::vector<std::string>& preparations() {
  static const std::vector<std::string> v = {"fast for eight hours beforehand",
                                             "drink two glasses of water an hour before",
                                             "wear a short-sleeved shirt",
                                             "bring your vaccination card",
                                             "avoid caffeine on the morning of the visit",
                                             "stop antihistamines three days before",
                                             "bring a list of your current medicines",
                                             "arrive fifteen minutes early",
                                             "skip lotion on your skin that day",
                                             "wear comfortable walking shoes",
                                             "bring your glasses or contact lenses",
                                             "eat a light breakfast first"};
  return v;
}

const std::vector<std::string>& locations() {
  static const std::vector<std::string> v = {
      "the check-in counter", "the second-floor pharmacy", "the lab window",
      "the therapy gym",      "the east wing supply room", "the urgent care counter"};
  return v;
}

const std::vector<std::string>& policy_topics() {
  static const std::vector<std::string> v = {"record retention",
                                             "video visit recordings",
                                             "sharing records with employers",
                                             "copies of medical records",
                                             "access to patient charts",
                                             "email reminders",
                                             "sharing records with family members",
                                             "research use of records"};
  return v;
}

const std::vector<std::string>& policy_rules() {
  static const std::vector<std::string> v = {
      "records are kept for ten years",
      "video visits are never recorded",
      "an employer sees records only with your written consent",
      "copies can be downloaded from the patient portal",
      "only your own care team can open your chart",
      "reminder messages never include test results",
      "family members see records only if you name them in writing",
      "records are used for research only with your signed permission"};
  return v;
}

const std::vector<std::string>& emergency_symptoms() {
  static const std::vector<std::string> v = {"crushing chest pain",
                                             "severe trouble breathing",
                                             "a seizure that will not stop",
                                             "bleeding that will not stop",
                                             "sudden weakness on one side of the face",
                                             "suddenly slurred speech",
                                             "a swollen throat after a bee sting",
                                             "blue lips and gasping",
                                             "a head injury with confusion",
                                             "chest pain spreading to the left arm",
                                             "a fever with a stiff neck and confusion",
                                             "an overdose of sleeping pills"};
  return v;
}

}  // namespace cai::world::lexicon
