package notify

import "huzhu/model"

// asActor is a staff member who may do anything (an admin on the command line): the tests of
// this package are about what the services do, not who may ask; service/staff and cmd/huzhu
// test the rules.
func asActor(name string) model.Actor {
	return model.Actor{Username: name, Role: model.RoleAdmin, Via: model.ViaCLI}
}
