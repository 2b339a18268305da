// What patients call the clinic's services and items: the knowledge base's name most of the
// time, otherwise an everyday one ("flu jab", "blood test", "compression stockings"). A
// response names the entity as the knowledge base does, so the model learns to map the words
// a patient uses onto the clinic's. Services give "singular" or "singular|plural"; items
// (plural in the knowledge base) give "plural|one of them".
#include "patient_grammar.h"

namespace cai::world::patient {

namespace {

struct Names {
  const char* entity;
  std::vector<Alt> names;
};

}  // namespace

void add_entity_names(Grammar& g) {
  // clang-format off
  const std::vector<Names> services = {
      {"flu shot", {{"flu shot", 6, true}, {"flu jab"}, {"flu vaccine"}, {"flu vaccination"}}},
      {"blood draw", {{"blood draw", 6, true}, {"blood test"}, {"lab draw"}, {"blood sample"}}},
      {"allergy test", {{"allergy test", 6, true}, {"allergy testing|allergy tests"}, {"allergy panel"}}},
      {"hearing test", {{"hearing test", 6, true}, {"hearing check"}, {"hearing exam"}, {"audiology test"}}},
      {"eye exam", {{"eye exam", 6, true}, {"eye test"}, {"vision test"}, {"eye check"}}},
      {"tetanus booster", {{"tetanus booster", 6, true}, {"tetanus shot"}, {"tetanus jab"}, {"tetanus vaccine"}}},
      {"cholesterol screening", {{"cholesterol screening", 6, true}, {"cholesterol test"}, {"cholesterol check"}, {"lipid panel"}}},
      {"skin check", {{"skin check", 6, true}, {"mole check"}, {"skin exam"}, {"skin screening"}}},
      {"diabetes class", {{"diabetes class", 6, true}, {"diabetes education class"}, {"diabetes course"}, {"diabetes session"}}},
      {"prenatal checkup", {{"prenatal checkup", 6, true}, {"prenatal visit"}, {"pregnancy checkup"}, {"antenatal appointment"}}},
      {"nutrition consult", {{"nutrition consult", 6, true}, {"nutrition consultation"}, {"dietitian appointment"}, {"nutritionist visit"}}},
      {"travel vaccine", {{"travel vaccine", 6, true}, {"travel vaccination"}, {"travel shot"}, {"travel jab"}}},
      {"wrist x-ray", {{"wrist x-ray", 6, true}, {"x-ray of the wrist|x-rays of the wrist"}, {"wrist xray"}, {"wrist scan"}}},
      {"knee ultrasound", {{"knee ultrasound", 6, true}, {"ultrasound of the knee|ultrasounds of the knee"}, {"knee scan"}}},
      {"sleep consult", {{"sleep consult", 6, true}, {"sleep consultation"}, {"sleep clinic appointment"}, {"sleep appointment"}}},
      {"asthma review", {{"asthma review", 6, true}, {"asthma check"}, {"asthma checkup"}, {"asthma appointment"}}},
      {"well-child visit", {{"well-child visit", 6, true}, {"well-child check"}, {"child checkup"}, {"kids' checkup"}}},
      {"blood pressure check", {{"blood pressure check", 6, true}, {"BP check"}, {"blood pressure test"}, {"blood pressure reading"}}},
      {"stitch removal", {{"stitch removal", 6, true}, {"stitches removal|stitches removals"}, {"suture removal"}}},
      {"ear cleaning", {{"ear cleaning", 6, true}, {"ear wax removal|ear wax removals"}, {"ear syringing|ear syringings"}, {"ear irrigation"}}},
      {"strep test", {{"strep test", 6, true}, {"strep throat test"}, {"throat swab"}, {"rapid strep test"}}},
      {"wart treatment", {{"wart treatment", 6, true}, {"wart removal"}, {"wart freezing|wart freezings"}}},
      {"foot care visit", {{"foot care visit", 6, true}, {"foot care appointment"}, {"podiatry visit"}, {"foot clinic visit"}}},
      {"physical therapy session", {{"physical therapy session", 6, true}, {"physio session"}, {"PT session"}, {"physical therapy appointment"}, {"physio appointment"}}},
  };
  const std::vector<Names> items = {
      {"crutches", {{"crutches|a pair of crutches", 6, true}, {"crutches|crutches"}, {"crutches|a crutch"}}},
      {"knee braces", {{"knee braces|a knee brace", 6, true}, {"knee supports|a knee support"}, {"knee sleeves|a knee sleeve"}}},
      {"ear thermometers", {{"ear thermometers|an ear thermometer", 6, true}, {"thermometers for the ear|a thermometer for the ear"}}},
      {"wrist splints", {{"wrist splints|a wrist splint", 6, true}, {"wrist supports|a wrist support"}, {"splints for the wrist|a splint for my wrist"}}},
      {"ice packs", {{"ice packs|an ice pack", 6, true}, {"cold packs|a cold pack"}, {"ice bags|an ice bag"}}},
      {"nebulizer masks", {{"nebulizer masks|a nebulizer mask", 6, true}, {"nebuliser masks|a nebuliser mask"}, {"masks for a nebulizer|a mask for my nebulizer"}}},
      {"glucose test strips", {{"glucose test strips|a box of glucose test strips", 6, true}, {"blood sugar test strips|a box of blood sugar test strips"}, {"glucose strips|a pack of glucose strips"}}},
      {"compression socks", {{"compression socks|a pair of compression socks", 6, true}, {"compression stockings|a pair of compression stockings"}, {"support socks|a pair of support socks"}}},
      {"eye drops", {{"eye drops|a bottle of eye drops", 6, true}, {"eyedrops|a bottle of eyedrops"}, {"drops for my eyes|some drops for my eyes"}}},
      {"saline nose spray", {{"saline nose spray|a bottle of saline nose spray", 6, true}, {"saline nasal spray|a saline nasal spray"}, {"salt water nose spray|a salt water nose spray"}}},
      {"elastic bandages", {{"elastic bandages|an elastic bandage", 6, true}, {"elastic wraps|an elastic wrap"}, {"stretch bandages|a stretch bandage"}}},
      {"pill organizers", {{"pill organizers|a pill organizer", 6, true}, {"pill boxes|a pill box"}, {"weekly pill organizers|a weekly pill organizer"}}},
      {"arm slings", {{"arm slings|an arm sling", 6, true}, {"slings|a sling for my arm"}, {"slings for the arm|a sling"}}},
      {"heating pads", {{"heating pads|a heating pad", 6, true}, {"heat pads|a heat pad"}, {"electric heating pads|an electric heating pad"}}},
      {"walking canes", {{"walking canes|a walking cane", 6, true}, {"walking sticks|a walking stick"}, {"canes|a cane"}}},
      {"reading glasses", {{"reading glasses|a pair of reading glasses", 6, true}, {"readers|a pair of readers"}, {"glasses for reading|some glasses for reading"}}},
  };
  // clang-format on
  for (const auto* list : {&services, &items})
    for (const auto& n : *list) g.add(std::string("name@") + n.entity, n.names);
}

}  // namespace cai::world::patient
